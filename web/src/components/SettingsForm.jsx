// The settings of a named definition that has a type (an integration, a storage): name and type
// side by side, the description, the type's own fields, the API's error and the submit button.
// The form keeps what every type has; the caller keeps its type and config.
import { useState } from "react";
import { fieldError } from "../lib/api.js";
import { useAction } from "../lib/hooks.js";
import { Field } from "./Field.jsx";
import { ErrorNotice } from "./States.jsx";

// label names the form; definition is the stored one (none for a new one). typeField: the Type
// field. children(err): the type's fields, err(key) the API's 422 on config.key.
// onSubmit({name, description}) adds type and config and sends the body; a failure is shown.
export function SettingsForm({ label, definition, disabled, submitLabel, typeField, onSubmit, children }) {
  const [name, setName] = useState(definition?.name || "");
  const [description, setDescription] = useState(definition?.description || "");
  const { error, busy, act } = useAction();
  const err = (k) => fieldError(error, `config.${k}`);

  function submit(e) {
    e.preventDefault();
    act(() => onSubmit({ name, description }));
  }

  return (
    <form className="form" onSubmit={submit} aria-label={label}>
      <div className="grid-2">
        <Field label="Name" error={fieldError(error, "name")}>
          <input required disabled={disabled} value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        {typeField}
      </div>
      <Field label="Description">
        <input disabled={disabled} value={description} onChange={(e) => setDescription(e.target.value)} />
      </Field>
      {children(err)}
      <ErrorNotice error={error} />
      {!disabled && (
        <div className="buttons">
          <button type="submit" className="primary" disabled={busy}>
            {submitLabel}
          </button>
        </div>
      )}
    </form>
  );
}
