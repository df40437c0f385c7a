// What a view shows while it loads, when it has nothing, and when loading failed.
import { ApiError } from "../lib/api.js";

export function Loading({ label = "Loading…" }) {
  return (
    <p className="state loading" role="status">
      <span className="spinner" aria-hidden="true" /> {label}
    </p>
  );
}

export function Empty({ children }) {
  return <div className="state empty">{children}</div>;
}

function describe(error) {
  if (error instanceof ApiError) {
    if (error.status === 403) return "Your role does not allow this.";
    if (error.status === 404) return "Not found: it may have been deleted.";
    if (error.status === 429) return `${error.message}${error.retryAfter ? ` (retry in ${error.retryAfter} s)` : ""}`;
    if (error.status >= 500) return `The server could not answer (${error.status}): ${error.message}`;
    return error.message;
  }
  if (error instanceof TypeError) return "The gateway cannot be reached: check that the stack is running.";
  return String(error?.message || error);
}

export function ErrorNotice({ error, onRetry }) {
  if (!error) return null;
  return (
    <div className="state error" role="alert">
      <span>{describe(error)}</span>
      {onRetry && (
        <button type="button" className="link" onClick={() => onRetry()}>
          Try again
        </button>
      )}
    </div>
  );
}

// What a page shows while the item it loads (a useAsync result) is not there: why it failed,
// with a retry, or that it is loading.
export function Pending({ load }) {
  return load.error ? <ErrorNotice error={load.error} onRetry={load.reload} /> : <Loading />;
}
