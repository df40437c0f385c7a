// A storage's settings per type. Tokens, passwords and credentials in URLs come back masked
// (********) and keep their stored values while the URL stays the same; otherwise the API's
// 422 names each secret to type again, shown on its field.
import { useState } from "react";
import { Field } from "../../components/Field.jsx";
import { fromPairs, KeyValueEditor, MASK, toPairs } from "../../components/KeyValueEditor.jsx";
import { SettingsForm } from "../../components/SettingsForm.jsx";

const SECRET_HINT = "Stored secret, shown masked: leave it to keep it; a new URL needs it typed again.";
const DEFAULTS = {
  internal: { retention_days: null },
  influxdb: { url: "", database: null, org: null, bucket: null, token: null, username: null, password: null, measurement: "uplinks", precision: "ms" },
  postgresql: { connection_url: "", table: "" },
};

function Text({ value, onChange, ...rest }) {
  return <input {...rest} value={value ?? ""} onChange={(e) => onChange(e.target.value || null)} />;
}

function InfluxFields({ config, set, tags, setTags, fields, setFields, err, disabled }) {
  const secret = (k, label) => (
    <Field label={label} error={err(k)} hint={config[k] === MASK ? SECRET_HINT : undefined}>
      <Text type="password" autoComplete="new-password" disabled={disabled} value={config[k]} onChange={(v) => set(k, v)} />
    </Field>
  );
  return (
    <>
      <div className="grid-2">
        <Field label="URL" error={err("url")}>
          <Text required disabled={disabled} value={config.url} onChange={(v) => set("url", v)} />
        </Field>
        <Field label="Measurement" error={err("measurement")}>
          <Text required disabled={disabled} value={config.measurement} onChange={(v) => set("measurement", v)} />
        </Field>
        <Field label="Database (InfluxDB 1.x)" error={err("database")}>
          <Text disabled={disabled} value={config.database} onChange={(v) => set("database", v)} />
        </Field>
        <Field label="Precision" error={err("precision")}>
          <select disabled={disabled} value={config.precision} onChange={(e) => set("precision", e.target.value)}>
            {["ns", "us", "ms", "s"].map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </Field>
        <Field label="Organisation (2.x)" error={err("org")}>
          <Text disabled={disabled} value={config.org} onChange={(v) => set("org", v)} />
        </Field>
        <Field label="Bucket (2.x)" error={err("bucket")}>
          <Text disabled={disabled} value={config.bucket} onChange={(v) => set("bucket", v)} />
        </Field>
        {secret("token", "Token (2.x)")}
        <Field label="Username (1.x)" error={err("username")}>
          <Text disabled={disabled} value={config.username} onChange={(v) => set("username", v)} />
        </Field>
        {secret("password", "Password (1.x)")}
      </div>
      <KeyValueEditor legend="Tags" keyLabel="Tag" valueLabel="Message path" rows={tags} onChange={setTags} disabled={disabled} errorOf={(k) => err(`tags.${k}`)} />
      <KeyValueEditor legend="Fields" keyLabel="Field" valueLabel="Message path (e.g. object.temperature)" rows={fields} onChange={setFields} disabled={disabled} errorOf={(k) => err(`fields.${k}`)} />
      {err("fields") && <p className="field-error">{err("fields")}</p>}
    </>
  );
}

export function StorageForm({ storage, onSubmit, disabled, submitLabel }) {
  const [type, setType] = useState(storage?.type || "internal");
  const [config, setConfig] = useState(() => ({ ...DEFAULTS[type], ...(storage?.config || {}) }));
  const [tags, setTags] = useState(() => toPairs(storage?.config?.tags));
  const [fields, setFields] = useState(() => toPairs(storage?.config?.fields));
  const set = (k, v) => setConfig((c) => ({ ...c, [k]: v }));
  const typeField = (
    <Field label="Type">
      <select disabled={disabled} value={type} onChange={(e) => { setType(e.target.value); setConfig(DEFAULTS[e.target.value]); }}>
        <option value="internal">Internal</option>
        <option value="influxdb">InfluxDB</option>
        <option value="postgresql">PostgreSQL</option>
      </select>
    </Field>
  );
  return (
    <SettingsForm
      label="Storage settings"
      definition={storage}
      disabled={disabled}
      submitLabel={submitLabel}
      typeField={typeField}
      onSubmit={(common) => onSubmit({ ...common, type, config: type === "influxdb" ? { ...config, tags: fromPairs(tags), fields: fromPairs(fields) } : config })}
    >
      {(err) => (
        <>
          {type === "internal" && (
            <Field label="Keep records for (days)" hint="Empty: keep them" error={err("retention_days")}>
              <input type="number" min="1" disabled={disabled} value={config.retention_days ?? ""} onChange={(e) => set("retention_days", e.target.value ? Number(e.target.value) : null)} />
            </Field>
          )}
          {type === "influxdb" && <InfluxFields config={config} set={set} tags={tags} setTags={setTags} fields={fields} setFields={setFields} err={err} disabled={disabled} />}
          {type === "postgresql" && (
            <div className="grid-2">
              <Field label="Connection URL" hint={config.connection_url?.includes(MASK) ? SECRET_HINT : "postgresql://user:password@host:5432/database"} error={err("connection_url")}>
                <Text required disabled={disabled} value={config.connection_url} onChange={(v) => set("connection_url", v)} />
              </Field>
              <Field label="Table" hint="table or schema.table" error={err("table")}>
                <Text required disabled={disabled} value={config.table} onChange={(v) => set("table", v)} />
              </Field>
            </div>
          )}
        </>
      )}
    </SettingsForm>
  );
}
