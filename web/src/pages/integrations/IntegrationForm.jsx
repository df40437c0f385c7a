// An integration's settings per type. Secrets come back masked (********): left as they are,
// they keep the stored value — but only while the destination stays the same; after a change of
// URL, host or TLS settings the API answers 422 naming each secret to type again, shown here on
// its field.
import { useState } from "react";
import { Field } from "../../components/Field.jsx";
import { fromPairs, KeyValueEditor, MASK, toPairs } from "../../components/KeyValueEditor.jsx";
import { SettingsForm } from "../../components/SettingsForm.jsx";

const SECRET_HINT = "Stored secret, shown masked: leave it to keep it, or type a new one. A new destination needs it typed again.";
const HTTP = { url: "", method: "POST", timeout_ms: 10000, verify_tls: true, ca_cert: null };
const MQTT = { host: "", port: 1883, topic: "devices/{dev_eui}", username: null, password: null, qos: 1, retain: false, use_tls: false, ca_cert: null, client_cert: null, client_key: null, client_id: null };

function Secret({ value, onChange, disabled, ...rest }) {
  return <input {...rest} type="password" autoComplete="new-password" disabled={disabled} value={value ?? ""} onChange={(e) => onChange(e.target.value || null)} />;
}

function HttpFields({ config, headers, set, setHeaders, err, disabled }) {
  return (
    <>
      <div className="grid-2">
        <Field label="URL" error={err("url")} hint={config.url?.includes(MASK) ? "Credentials in the URL are masked: type them again if the URL changes." : undefined}>
          <input required disabled={disabled} value={config.url} onChange={(e) => set("url", e.target.value)} />
        </Field>
        <Field label="Method" error={err("method")}>
          <select disabled={disabled} value={config.method} onChange={(e) => set("method", e.target.value)}>
            {["POST", "PUT", "PATCH", "GET"].map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </Field>
        <Field label="Timeout (ms)" error={err("timeout_ms")}>
          <input type="number" min="1" max="60000" disabled={disabled} value={config.timeout_ms} onChange={(e) => set("timeout_ms", Number(e.target.value))} />
        </Field>
        <Field label="Verify TLS certificates" error={err("verify_tls")}>
          <input type="checkbox" disabled={disabled} checked={config.verify_tls} onChange={(e) => set("verify_tls", e.target.checked)} />
        </Field>
      </div>
      <KeyValueEditor legend="Headers" rows={headers} onChange={setHeaders} errorOf={(k) => err(`headers.${k}`)} disabled={disabled} secretHint={SECRET_HINT} />
      <Field label="CA certificate (PEM)" hint="For a server whose certificate no public CA signed" error={err("ca_cert")}>
        <textarea className="mono" rows={3} disabled={disabled} value={config.ca_cert || ""} onChange={(e) => set("ca_cert", e.target.value || null)} />
      </Field>
    </>
  );
}

function MqttFields({ config, set, err, disabled }) {
  return (
    <>
      <div className="grid-2">
        <Field label="Host" error={err("host")}>
          <input required disabled={disabled} value={config.host} onChange={(e) => set("host", e.target.value)} />
        </Field>
        <Field label="Port" error={err("port")}>
          <input type="number" min="1" max="65535" disabled={disabled} value={config.port ?? ""} onChange={(e) => set("port", Number(e.target.value))} />
        </Field>
        <Field label="Topic" hint="May contain {dev_eui}, {device_name}, {flow_id}" error={err("topic")}>
          <input required disabled={disabled} value={config.topic} onChange={(e) => set("topic", e.target.value)} />
        </Field>
        <Field label="QoS" error={err("qos")}>
          <select disabled={disabled} value={config.qos} onChange={(e) => set("qos", Number(e.target.value))}>
            {[0, 1, 2].map((q) => (
              <option key={q}>{q}</option>
            ))}
          </select>
        </Field>
        <Field label="Username" error={err("username")}>
          <input disabled={disabled} value={config.username || ""} onChange={(e) => set("username", e.target.value || null)} />
        </Field>
        <Field label="Password" error={err("password")} hint={config.password === MASK ? SECRET_HINT : undefined}>
          <Secret disabled={disabled} value={config.password} onChange={(v) => set("password", v)} />
        </Field>
        <Field label="Client id" error={err("client_id")}>
          <input disabled={disabled} value={config.client_id || ""} onChange={(e) => set("client_id", e.target.value || null)} />
        </Field>
        <Field label="Retain" error={err("retain")}>
          <input type="checkbox" disabled={disabled} checked={config.retain} onChange={(e) => set("retain", e.target.checked)} />
        </Field>
        <Field label="TLS" error={err("use_tls")}>
          <input type="checkbox" disabled={disabled} checked={config.use_tls} onChange={(e) => set("use_tls", e.target.checked)} />
        </Field>
      </div>
      {config.use_tls && (
        <div className="grid-2">
          <Field label="CA certificate (PEM)" error={err("ca_cert")}>
            <textarea className="mono" rows={3} disabled={disabled} value={config.ca_cert || ""} onChange={(e) => set("ca_cert", e.target.value || null)} />
          </Field>
          <Field label="Client certificate (PEM)" error={err("client_cert")}>
            <textarea className="mono" rows={3} disabled={disabled} value={config.client_cert || ""} onChange={(e) => set("client_cert", e.target.value || null)} />
          </Field>
          <Field label="Client key (PEM)" error={err("client_key")} hint={config.client_key === MASK ? SECRET_HINT : undefined}>
            <Secret disabled={disabled} value={config.client_key} onChange={(v) => set("client_key", v)} />
          </Field>
        </div>
      )}
    </>
  );
}

export function IntegrationForm({ integration, onSubmit, disabled, submitLabel }) {
  const [type, setType] = useState(integration?.type || "http");
  const [config, setConfig] = useState(() => ({ ...(type === "http" ? HTTP : MQTT), ...(integration?.config || {}) }));
  const [headers, setHeaders] = useState(() => toPairs(integration?.config?.headers));
  const set = (k, v) => setConfig((c) => ({ ...c, [k]: v }));
  const typeField = (
    <Field label="Type" hint={integration ? "A new type needs its whole configuration" : undefined}>
      <select
        disabled={disabled}
        value={type}
        onChange={(e) => {
          setType(e.target.value);
          setConfig(e.target.value === "http" ? HTTP : MQTT);
          setHeaders([]);
        }}
      >
        <option value="http">HTTP</option>
        <option value="mqtt">MQTT</option>
      </select>
    </Field>
  );
  return (
    <SettingsForm
      label="Integration settings"
      definition={integration}
      disabled={disabled}
      submitLabel={submitLabel}
      typeField={typeField}
      onSubmit={(common) => onSubmit({ ...common, type, config: type === "http" ? { ...config, headers: fromPairs(headers) } : config })}
    >
      {(err) =>
        type === "http" ? (
          <HttpFields config={config} headers={headers} set={set} setHeaders={setHeaders} err={err} disabled={disabled} />
        ) : (
          <MqttFields config={config} set={set} err={err} disabled={disabled} />
        )
      }
    </SettingsForm>
  );
}
