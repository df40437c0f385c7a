// One storage (or a new one): its settings and, for an internal storage, the records it keeps.
import { del, get, post, put } from "../../lib/api.js";
import { canEdit, useMe } from "../../lib/auth.js";
import { dateTime } from "../../lib/format.js";
import { useAsync, usePage } from "../../lib/hooks.js";
import { navigate } from "../../lib/router.js";
import { ConfirmButton } from "../../components/ConfirmButton.jsx";
import { PagedTable } from "../../components/PagedTable.jsx";
import { PageHeader } from "../../components/PageHeader.jsx";
import { Pending } from "../../components/States.jsx";
import { Tabs } from "../../components/Tabs.jsx";
import { useToast } from "../../components/Toasts.jsx";
import { StorageForm } from "./StorageForm.jsx";

function Records({ storage }) {
  const list = usePage(`/storages/${storage.id}/records`, 25);
  return (
    <PagedTable
      page={list}
      label="Records"
      columns={[
        { key: "time", label: "Time", render: (r) => dateTime(r.time) },
        { key: "dev_eui", label: "Device", className: "mono" },
        { key: "data", label: "Data", className: "clip mono", render: (r) => JSON.stringify(r.data) },
      ]}
      empty="No records yet."
    />
  );
}

export function StoragePage({ id }) {
  const me = useMe();
  const editable = canEdit(me);
  const toast = useToast();
  const isNew = id === "new";
  const storage = useAsync(() => (isNew ? Promise.resolve(null) : get(`/storages/${id}`)), [id]);
  if (isNew) {
    return (
      <>
        <PageHeader title="New storage" />
        <StorageForm
          submitLabel="Create storage"
          onSubmit={async (body) => {
            const made = await post("/storages", body);
            navigate(`/storages/${made.id}`);
          }}
        />
      </>
    );
  }
  if (!storage.data) return <Pending load={storage} />;
  const s = storage.data;
  const settings = {
    id: "settings",
    label: "Settings",
    render: () => (
      <StorageForm
        key={s.version}
        storage={s}
        disabled={!editable}
        submitLabel="Save"
        onSubmit={async (body) => {
          storage.setData(await put(`/storages/${s.id}`, body));
          toast("Storage saved");
        }}
      />
    ),
  };
  return (
    <>
      <PageHeader title={s.name} sub={s.type}>
        {editable && (
          <ConfirmButton confirm={`Delete ${s.name}?`} onConfirm={() => del(`/storages/${s.id}`).then(() => navigate("/storages"), (x) => toast(x.message, "error"))}>
            Delete
          </ConfirmButton>
        )}
      </PageHeader>
      <Tabs label="Storage" tabs={s.type === "internal" ? [settings, { id: "records", label: "Records", render: () => <Records storage={s} /> }] : [settings]} />
    </>
  );
}
