// One function (or a new one): its code in CodeMirror, its parameters, a test panel and its
// run history. Loaded on first use.
import { useState } from "react";
import { del, fieldError, get, post, put } from "../../lib/api.js";
import { canEdit, useMe } from "../../lib/auth.js";
import { useAsync } from "../../lib/hooks.js";
import { navigate } from "../../lib/router.js";
import { ConfirmButton } from "../../components/ConfirmButton.jsx";
import { Field } from "../../components/Field.jsx";
import { PageHeader } from "../../components/PageHeader.jsx";
import { ErrorNotice, Pending } from "../../components/States.jsx";
import { Tabs } from "../../components/Tabs.jsx";
import { useToast } from "../../components/Toasts.jsx";
import { CodeEditor } from "./CodeEditor.jsx";
import { FunctionRuns } from "./FunctionRuns.jsx";
import { ParametersEditor } from "./ParametersEditor.jsx";
import { TestPanel } from "./TestPanel.jsx";

const TEMPLATE = `// Called for each message of a flow: message.data is the decoded uplink, message.device the
// device (name, labels), parameters what the flow's node sets. Return what the next nodes get;
// return null to stop the message here.
function process(message, parameters) {
  return { dev_eui: message.dev_eui, ...message.data };
}
`;

function Editor({ fn, onSaved }) {
  const me = useMe();
  const editable = canEdit(me);
  const toast = useToast();
  const [form, setForm] = useState({ name: fn.name, description: fn.description, code: fn.code, parameters: fn.parameters });
  const [dirty, setDirty] = useState(!fn.id);
  const [error, setError] = useState(null);
  const set = (k) => (v) => {
    setForm((f) => ({ ...f, [k]: v }));
    setDirty(true);
  };
  const errorOf = (path) => fieldError(error, path);

  async function save(e) {
    e.preventDefault();
    setError(null);
    try {
      const saved = fn.id ? await put(`/functions/${fn.id}`, form) : await post("/functions", form);
      setDirty(false);
      toast("Function saved");
      if (fn.id) onSaved(saved);
      else navigate(`/functions/${saved.id}`, { replace: true });
    } catch (x) {
      setError(x);
    }
  }

  return (
    <>
      <PageHeader title={fn.id ? fn.name : "New function"} sub={fn.id ? `Version ${fn.version}${dirty ? " · unsaved changes" : ""}` : null}>
        {editable && fn.id && (
          <ConfirmButton confirm={`Delete ${fn.name}?`} onConfirm={() => del(`/functions/${fn.id}`).then(() => navigate("/functions"), setError)}>
            Delete
          </ConfirmButton>
        )}
      </PageHeader>
      <form className="form" onSubmit={save} aria-label="Function">
        <div className="grid-2">
          <Field label="Name" error={errorOf("name")}>
            <input required disabled={!editable} value={form.name} onChange={(e) => set("name")(e.target.value)} />
          </Field>
          <Field label="Description" error={errorOf("description")}>
            <input disabled={!editable} value={form.description || ""} onChange={(e) => set("description")(e.target.value)} />
          </Field>
        </div>
        <div className={`field ${errorOf("code") ? "has-error" : ""}`}>
          <span className="label" id="code-label">
            Code
          </span>
          <CodeEditor value={form.code} onChange={set("code")} readOnly={!editable} label="Code" />
          {errorOf("code") && (
            <small className="field-error" role="alert">
              {errorOf("code")}
            </small>
          )}
        </div>
        <ParametersEditor parameters={form.parameters} onChange={set("parameters")} errorOf={errorOf} disabled={!editable} />
        {error && !error.fields?.length && <ErrorNotice error={error} />}
        {editable && (
          <div className="buttons">
            <button type="submit" className="primary" disabled={!dirty}>
              {fn.id ? "Save" : "Create function"}
            </button>
          </div>
        )}
      </form>
      <Tabs
        label="Function"
        tabs={[
          ...(editable ? [{ id: "test", label: "Test", render: () => <TestPanel fn={fn} code={form.code} parameters={form.parameters} saved={Boolean(fn.id) && !dirty} /> }] : []),
          ...(fn.id ? [{ id: "runs", label: "Runs", render: () => <FunctionRuns fn={fn} /> }] : []),
        ]}
      />
    </>
  );
}

export default function FunctionPage({ id }) {
  const isNew = id === "new";
  const fn = useAsync(() => (isNew ? Promise.resolve({ name: "", description: "", code: TEMPLATE, parameters: [] }) : get(`/functions/${id}`)), [id]);
  if (!fn.data) return <Pending load={fn} />;
  return <Editor key={fn.data.version ?? "new"} fn={fn.data} onSaved={fn.setData} />;
}
