// Labels group devices (a flow can start from a label): create, rename, delete.
import { useState } from "react";
import { del, fieldError, patch, post } from "../../lib/api.js";
import { canEdit, useMe } from "../../lib/auth.js";
import { useAll } from "../../lib/hooks.js";
import { ConfirmButton } from "../../components/ConfirmButton.jsx";
import { DataTable } from "../../components/DataTable.jsx";
import { Field } from "../../components/Field.jsx";
import { Link } from "../../components/Link.jsx";
import { PageHeader } from "../../components/PageHeader.jsx";
import { ErrorNotice } from "../../components/States.jsx";
import { useToast } from "../../components/Toasts.jsx";

function LabelForm({ label, onSaved, onCancel }) {
  const [name, setName] = useState(label?.name || "");
  const [description, setDescription] = useState(label?.description || "");
  const [color, setColor] = useState(label?.color || "#2563eb");
  const [error, setError] = useState(null);
  async function submit(e) {
    e.preventDefault();
    setError(null);
    try {
      const body = { name, description, color };
      onSaved(label ? await patch(`/labels/${label.id}`, body) : await post("/labels", body));
      if (!label) setName("");
    } catch (x) {
      setError(x);
    }
  }
  return (
    <form className="filters" onSubmit={submit} aria-label={label ? `Edit ${label.name}` : "New label"}>
      <Field label="Name" error={fieldError(error, "name")}>
        <input required value={name} onChange={(e) => setName(e.target.value)} />
      </Field>
      <Field label="Description">
        <input value={description} onChange={(e) => setDescription(e.target.value)} />
      </Field>
      <Field label="Colour">
        <input type="color" value={color} onChange={(e) => setColor(e.target.value)} />
      </Field>
      <button type="submit" className="primary">
        {label ? "Save" : "Add label"}
      </button>
      {onCancel && (
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      )}
      {error && !error.fields?.length && <ErrorNotice error={error} />}
    </form>
  );
}

export function LabelsPage() {
  const me = useMe();
  const toast = useToast();
  const labels = useAll("labels");
  const [editing, setEditing] = useState(null);
  const columns = [
    {
      key: "name",
      label: "Name",
      render: (l) => (
        <span>
          <span className="swatch" style={{ background: l.color || "transparent" }} aria-hidden="true" /> {l.name}
        </span>
      ),
    },
    { key: "description", label: "Description" },
    { key: "device_count", label: "Devices", render: (l) => <Link to={`/devices?label=${l.id}`}>{l.device_count}</Link> },
  ];
  if (canEdit(me)) {
    columns.push({
      key: "actions",
      label: "Actions",
      render: (l) => (
        <span className="row-actions">
          <button type="button" onClick={() => setEditing(l)}>
            Edit
          </button>
          <ConfirmButton
            confirm={`Delete ${l.name}?`}
            onConfirm={() =>
              del(`/labels/${l.id}`).then(
                () => labels.reload(true),
                (e) => toast(e.message, "error"),
              )
            }
          >
            Delete
          </ConfirmButton>
        </span>
      ),
    });
  }
  return (
    <>
      <PageHeader title="Labels" sub="Group devices; a flow that starts from a label takes every device in it." />
      {canEdit(me) &&
        (editing ? (
          <LabelForm key={editing.id} label={editing} onSaved={() => { setEditing(null); labels.reload(true); toast("Label saved"); }} onCancel={() => setEditing(null)} />
        ) : (
          <LabelForm onSaved={() => { labels.reload(true); toast("Label added"); }} />
        ))}
      <DataTable label="Labels" columns={columns} rows={labels.data} loading={labels.loading} error={labels.error} onRetry={labels.reload} empty="No labels yet." />
    </>
  );
}
