// Logging in with an existing account (username or email), or registering a new one (it gets the
// gateway's default role, viewer unless configured otherwise).
import { useState } from "react";
import { ApiError, fieldError, post, request } from "../lib/api.js";
import { setToken } from "../lib/session.js";
import { Field } from "../components/Field.jsx";
import { ErrorNotice } from "../components/States.jsx";

function LoginForm({ notice }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { data } = await request("POST", "/auth/login", undefined, { form: { username, password } });
      setToken(data.access_token);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? new Error("Wrong username or password.") : err);
      setBusy(false);
    }
  }
  return (
    <form onSubmit={submit} aria-label="Log in">
      {notice && <p className="state">{notice}</p>}
      <Field label="Username or email">
        <input name="username" autoComplete="username" required value={username} onChange={(e) => setUsername(e.target.value)} />
      </Field>
      <Field label="Password">
        <input name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
      </Field>
      <ErrorNotice error={error} />
      <button type="submit" className="primary" disabled={busy}>
        {busy ? "Logging in…" : "Log in"}
      </button>
    </form>
  );
}

function RegisterForm({ onDone }) {
  const [form, setForm] = useState({ email: "", username: "", password: "" });
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await post("/auth/register", form);
      onDone("If that email and username were free, the account exists now: log in with it.");
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }
  return (
    <form onSubmit={submit} aria-label="Register">
      <Field label="Email" error={fieldError(error, "email")}>
        <input type="email" autoComplete="email" required value={form.email} onChange={set("email")} />
      </Field>
      <Field label="Username" hint="3 to 50 letters, digits, '.', '_' or '-'" error={fieldError(error, "username")}>
        <input autoComplete="username" required value={form.username} onChange={set("username")} />
      </Field>
      <Field label="Password" hint="At least 10 characters" error={fieldError(error, "password")}>
        <input type="password" autoComplete="new-password" required minLength={10} value={form.password} onChange={set("password")} />
      </Field>
      {error && !error.fields?.length && <ErrorNotice error={error} />}
      <button type="submit" className="primary" disabled={busy}>
        Register
      </button>
    </form>
  );
}

export function Login({ expired }) {
  const [mode, setMode] = useState("login");
  const [notice, setNotice] = useState(expired ? "Your session ended: log in again." : "");
  return (
    <main className="login" id="main">
      <h1>Device Manager</h1>
      {mode === "login" ? <LoginForm notice={notice} /> : <RegisterForm onDone={(text) => { setNotice(text); setMode("login"); }} />}
      <p className="login-alt">
        {mode === "login" ? (
          <button type="button" className="link" onClick={() => setMode("register")}>
            Create an account
          </button>
        ) : (
          <button type="button" className="link" onClick={() => setMode("login")}>
            Back to log in
          </button>
        )}
      </p>
      <p className="hint">
        First start? Create the first admin with <code>build/tools/dm-admin create-admin</code> (see the README).
      </p>
    </main>
  );
}
