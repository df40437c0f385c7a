// Every integration (HTTP, MQTT) with its state.
import { Link } from "../../components/Link.jsx";
import { ListPage } from "../../components/ListPage.jsx";
import { StatusBadge } from "../../components/StatusBadge.jsx";

export function target(i) {
  return i.type === "http" ? `${i.config.method || "POST"} ${i.config.url}` : `mqtt://${i.config.host}:${i.config.port ?? 1883} ${i.config.topic}`;
}

const columns = [
  { key: "name", label: "Name", render: (i) => <Link to={`/integrations/${i.id}`}>{i.name}</Link> },
  { key: "type", label: "Type" },
  { key: "target", label: "Target", className: "clip mono", render: target },
  { key: "status", label: "Status", render: (i) => <StatusBadge status={i.status} /> },
  { key: "last_error", label: "Last error", className: "clip", render: (i) => i.last_error || "" },
];

export function IntegrationList() {
  return (
    <ListPage
      kind="integrations"
      title="Integrations"
      sub="Where flows deliver messages: HTTP endpoints and MQTT brokers."
      create={{ to: "/integrations/new", label: "New integration" }}
      columns={columns}
      empty="No integrations yet."
    />
  );
}
