// One HTTP request or response as a delivery recorded it: the first line, the headers, and the
// body (pretty-printed when it is JSON).
import { JsonView } from "./JsonView.jsx";

// The body parsed when it is JSON, else undefined.
function parsed(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function Body({ text }) {
  if (text === undefined || text === null || text === "") return <p className="hint">No body.</p>;
  const value = parsed(text);
  if (value !== undefined) return <JsonView value={value} label="Body" />;
  return (
    <pre className="json" tabIndex={0}>
      {text}
    </pre>
  );
}

export function HttpExchange({ title, message }) {
  if (!message) {
    return (
      <div>
        <h3>{title}</h3>
        <p className="hint">None recorded.</p>
      </div>
    );
  }
  const first = message.method ? `${message.method} ${message.url}` : `HTTP ${message.status}`;
  return (
    <div className="exchange">
      <h3>{title}</h3>
      <p className="mono">{first}</p>
      <dl className="headers">
        {Object.entries(message.headers || {}).map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd className="mono">{v}</dd>
          </div>
        ))}
      </dl>
      <Body text={message.body} />
    </div>
  );
}
