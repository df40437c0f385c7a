// Accounts and their roles (admins only): change a role, deactivate or reactivate.
import { patch, request } from "../../lib/api.js";
import { useMe } from "../../lib/auth.js";
import { dateTime } from "../../lib/format.js";
import { useAsync } from "../../lib/hooks.js";
import { DataTable } from "../../components/DataTable.jsx";
import { PageHeader } from "../../components/PageHeader.jsx";
import { useToast } from "../../components/Toasts.jsx";

export function Users() {
  const me = useMe();
  const toast = useToast();
  const users = useAsync(() => request("GET", "/users?limit=1000").then((r) => r.data), []);
  const change = (u, body, what) =>
    patch(`/users/${u.id}`, body).then(
      () => {
        toast(`${u.username}: ${what}`);
        users.reload(true);
      },
      (x) => toast(x.message, "error"),
    );
  return (
    <>
      <PageHeader title="Users" sub="Viewers read; editors change definitions; admins also manage accounts. New accounts get the gateway's default role." />
      <DataTable
        label="Users"
        columns={[
          { key: "username", label: "Username" },
          { key: "email", label: "Email" },
          {
            key: "role",
            label: "Role",
            render: (u) => (
              <select aria-label={`Role of ${u.username}`} value={u.role} disabled={u.id === me.id} onChange={(e) => change(u, { role: e.target.value }, `now ${e.target.value}`)}>
                <option value="viewer">viewer</option>
                <option value="editor">editor</option>
                <option value="admin">admin</option>
              </select>
            ),
          },
          {
            key: "is_active",
            label: "Active",
            render: (u) =>
              u.id === me.id ? (
                "yes (you)"
              ) : (
                <button type="button" className={u.is_active ? "danger" : ""} onClick={() => change(u, { is_active: !u.is_active }, u.is_active ? "deactivated" : "reactivated")}>
                  {u.is_active ? "Deactivate" : "Reactivate"}
                </button>
              ),
          },
          { key: "created_at", label: "Since", render: (u) => dateTime(u.created_at) },
        ]}
        rows={users.data}
        loading={users.loading}
        error={users.error}
        onRetry={users.reload}
      />
    </>
  );
}
