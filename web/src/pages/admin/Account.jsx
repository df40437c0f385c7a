// The logged-in user's password and API keys (a new key is shown once).
import { useState } from "react";
import { ApiError, del, fieldError, get, post } from "../../lib/api.js";
import { useMe } from "../../lib/auth.js";
import { dateTime } from "../../lib/format.js";
import { useAsync } from "../../lib/hooks.js";
import { setToken } from "../../lib/session.js";
import { ConfirmButton } from "../../components/ConfirmButton.jsx";
import { DataTable } from "../../components/DataTable.jsx";
import { Field } from "../../components/Field.jsx";
import { PageHeader } from "../../components/PageHeader.jsx";
import { ErrorNotice } from "../../components/States.jsx";
import { useToast } from "../../components/Toasts.jsx";

const ROLES = ["viewer", "editor", "admin"];

function PasswordForm() {
  const toast = useToast();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [error, setError] = useState(null);
  async function submit(e) {
    e.preventDefault();
    setError(null);
    try {
      const token = await post("/auth/password", { current_password: current, new_password: next });
      // Every older token stopped working; this tab goes on with the fresh one.
      setToken(token.access_token);
      setCurrent("");
      setNext("");
      toast("Password changed: other sessions must log in again");
    } catch (x) {
      setError(x instanceof ApiError && x.status === 403 ? new Error("The current password is wrong.") : x);
    }
  }
  return (
    <form className="form narrow" onSubmit={submit} aria-labelledby="password-title">
      <h2 id="password-title">Password</h2>
      <Field label="Current password">
        <input type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} />
      </Field>
      <Field label="New password" hint="At least 10 characters, not the current one" error={fieldError(error, "new_password")}>
        <input type="password" autoComplete="new-password" required minLength={10} value={next} onChange={(e) => setNext(e.target.value)} />
      </Field>
      {error && !error.fields?.length && <ErrorNotice error={error} />}
      <button type="submit" className="primary">
        Change password
      </button>
    </form>
  );
}

function ApiKeys() {
  const me = useMe();
  const keys = useAsync(() => get("/auth/api-keys?limit=1000"), []);
  const [name, setName] = useState("");
  const [role, setRole] = useState(me.role);
  const [expires, setExpires] = useState("");
  const [made, setMade] = useState(null);
  const [error, setError] = useState(null);
  async function create(e) {
    e.preventDefault();
    setError(null);
    try {
      setMade(await post("/auth/api-keys", { name, role, expires_at: expires ? new Date(expires).toISOString() : null }));
      setName("");
      keys.reload(true);
    } catch (x) {
      setError(x);
    }
  }
  return (
    <section aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      <p className="hint">Send a key as the X-API-Key header. Its role is never above yours, and it stops working while you are deactivated.</p>
      <form className="filters" onSubmit={create} aria-label="New API key">
        <Field label="Name" error={fieldError(error, "name")}>
          <input required value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field label="Role">
          <select value={role} onChange={(e) => setRole(e.target.value)}>
            {ROLES.slice(0, ROLES.indexOf(me.role) + 1).map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </Field>
        <Field label="Expires" hint="Empty: never">
          <input type="datetime-local" value={expires} onChange={(e) => setExpires(e.target.value)} />
        </Field>
        <button type="submit" className="primary">
          Create key
        </button>
      </form>
      {error && !error.fields?.length && <ErrorNotice error={error} />}
      {made && (
        <div className="state key-once" role="alert">
          <p>
            Key <strong>{made.name}</strong> — copy it now, it is not shown again:
          </p>
          <code className="secret">{made.key}</code>
          <button type="button" onClick={() => navigator.clipboard?.writeText(made.key)}>
            Copy
          </button>
          <button type="button" onClick={() => setMade(null)}>
            Done
          </button>
        </div>
      )}
      <DataTable
        label="API keys"
        columns={[
          { key: "name", label: "Name" },
          { key: "prefix", label: "Starts with", className: "mono" },
          { key: "role", label: "Role" },
          { key: "expires_at", label: "Expires", render: (k) => (k.expires_at ? dateTime(k.expires_at) : "never") },
          { key: "revoked_at", label: "Revoked", render: (k) => (k.revoked_at ? dateTime(k.revoked_at) : "") },
          {
            key: "actions",
            label: "Actions",
            render: (k) =>
              !k.revoked_at && (
                <ConfirmButton confirm={`Revoke ${k.name}?`} onConfirm={() => del(`/auth/api-keys/${k.id}`).then(() => keys.reload(true), setError)}>
                  Revoke
                </ConfirmButton>
              ),
          },
        ]}
        rows={keys.data}
        loading={keys.loading}
        error={keys.error}
        onRetry={keys.reload}
        empty="No API keys."
      />
    </section>
  );
}

export function Account() {
  const me = useMe();
  return (
    <>
      <PageHeader title="Account" sub={`${me.username} · ${me.email} · ${me.role}`} />
      <PasswordForm />
      <ApiKeys />
    </>
  );
}
