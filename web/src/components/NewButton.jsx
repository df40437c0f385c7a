// A page header's main action: the link to a new item's page (hidden by the caller from those
// who may not edit, so that a header without actions gets no empty actions box).
import { Link } from "./Link.jsx";

export function NewButton({ to, children }) {
  return (
    <Link to={to} className="button primary">
      {children}
    </Link>
  );
}
