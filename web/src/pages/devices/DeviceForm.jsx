// The fields of a device, for creating and editing; the API's 422 lands on the field it names.
import { useState } from "react";
import { fieldError } from "../../lib/api.js";
import { useAll } from "../../lib/hooks.js";
import { Field } from "../../components/Field.jsx";
import { ErrorNotice } from "../../components/States.jsx";

const REGIONS = ["EU868", "US915", "CN779", "EU433", "AU915", "CN470", "AS923", "AS923-2", "AS923-3", "AS923-4", "KR920", "IN865", "RU864", "ISM2400"];

function initialForm(device) {
  return {
    dev_eui: device?.dev_eui || "",
    name: device?.name || "",
    description: device?.description || "",
    expected_transmit_time: device?.expected_transmit_time ?? "",
    region: device?.region || "",
    app_eui: device?.app_eui || "",
    is_class_c: device?.is_class_c || false,
    label_ids: (device?.labels || []).map((l) => l.id),
  };
}

function toBody(form) {
  return {
    ...form,
    expected_transmit_time: form.expected_transmit_time === "" ? null : Number(form.expected_transmit_time),
    region: form.region || null,
    app_eui: form.app_eui || null,
  };
}

export function DeviceForm({ device, submitLabel, onSubmit, onCancel }) {
  const labels = useAll("labels");
  const [form, setForm] = useState(() => initialForm(device));
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k, v) => setForm((f) => ({ ...f, [k]: v }));
  const err = (k) => fieldError(error, k);

  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSubmit(toBody(form));
    } catch (x) {
      setError(x);
      setBusy(false);
    }
  }

  return (
    <form className="form" onSubmit={submit} aria-label={submitLabel}>
      <div className="grid-2">
        <Field label="DevEUI" hint="16 hexadecimal digits" error={err("dev_eui")}>
          <input required className="mono" value={form.dev_eui} onChange={(e) => set("dev_eui", e.target.value)} />
        </Field>
        <Field label="Name" error={err("name")}>
          <input required value={form.name} onChange={(e) => set("name", e.target.value)} />
        </Field>
        <Field label="Expected transmit interval (minutes)" hint="Offline after this long without an uplink" error={err("expected_transmit_time")}>
          <input type="number" min="1" value={form.expected_transmit_time} onChange={(e) => set("expected_transmit_time", e.target.value)} />
        </Field>
        <Field label="Region" error={err("region")}>
          <select value={form.region} onChange={(e) => set("region", e.target.value)}>
            <option value="">—</option>
            {REGIONS.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </Field>
        <Field label="AppEUI" error={err("app_eui")}>
          <input className="mono" value={form.app_eui} onChange={(e) => set("app_eui", e.target.value)} />
        </Field>
        <Field label="Class C">
          <input type="checkbox" checked={form.is_class_c} onChange={(e) => set("is_class_c", e.target.checked)} />
        </Field>
      </div>
      <Field label="Description" error={err("description")}>
        <textarea rows={2} value={form.description} onChange={(e) => set("description", e.target.value)} />
      </Field>
      <fieldset>
        <legend>Labels</legend>
        {(labels.data || []).length === 0 && <p className="hint">No labels yet.</p>}
        <div className="checks">
          {(labels.data || []).map((l) => (
            <label key={l.id}>
              <input
                type="checkbox"
                checked={form.label_ids.includes(l.id)}
                onChange={(e) =>
                  set("label_ids", e.target.checked ? [...form.label_ids, l.id] : form.label_ids.filter((x) => x !== l.id))
                }
              />{" "}
              {l.name}
            </label>
          ))}
        </div>
      </fieldset>
      {error && !error.fields?.length && <ErrorNotice error={error} />}
      <div className="buttons">
        <button type="submit" className="primary" disabled={busy}>
          {submitLabel}
        </button>
        {onCancel && (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
