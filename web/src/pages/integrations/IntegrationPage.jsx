// One integration (or a new one): settings, a test delivery, its deliveries with request and
// response, and its dead letters with retry.
import { useState } from "react";
import { del, get, post, put } from "../../lib/api.js";
import { canEdit, useMe } from "../../lib/auth.js";
import { duration } from "../../lib/format.js";
import { useAction, useAsync } from "../../lib/hooks.js";
import { navigate } from "../../lib/router.js";
import { ConfirmButton } from "../../components/ConfirmButton.jsx";
import { HttpExchange } from "../../components/HttpExchange.jsx";
import { PageHeader } from "../../components/PageHeader.jsx";
import { ErrorNotice, Pending } from "../../components/States.jsx";
import { StatusBadge } from "../../components/StatusBadge.jsx";
import { Tabs } from "../../components/Tabs.jsx";
import { useToast } from "../../components/Toasts.jsx";
import { Deliveries } from "./Deliveries.jsx";
import { DeliveryDeadLetters } from "./DeliveryDeadLetters.jsx";
import { IntegrationForm } from "./IntegrationForm.jsx";
import { target } from "./IntegrationList.jsx";

function TestResult({ result }) {
  return (
    <section className="test-result" aria-label="Test delivery">
      <p>
        <StatusBadge status={result.status} /> {result.http_status ? `HTTP ${result.http_status}` : ""} in {duration(result.duration_ms)}
        {result.error && <span className="field-error"> — {result.error}</span>}
      </p>
      <details>
        <summary>Request and response</summary>
        <div className="grid-2">
          <HttpExchange title="Request" message={result.request} />
          <HttpExchange title="Response" message={result.response} />
        </div>
      </details>
    </section>
  );
}

export function IntegrationPage({ id }) {
  const me = useMe();
  const editable = canEdit(me);
  const toast = useToast();
  const isNew = id === "new";
  const integration = useAsync(() => (isNew ? Promise.resolve(null) : get(`/integrations/${id}`)), [id]);
  const [test, setTest] = useState(null);
  const { error: testError, busy: testing, act } = useAction();

  if (isNew) {
    return (
      <>
        <PageHeader title="New integration" />
        <IntegrationForm
          submitLabel="Create integration"
          onSubmit={async (body) => {
            const made = await post("/integrations", body);
            navigate(`/integrations/${made.id}`);
          }}
        />
      </>
    );
  }
  if (!integration.data) return <Pending load={integration} />;
  const i = integration.data;
  const runTest = () => act(async () => setTest(await post(`/integrations/${i.id}/test`)));
  return (
    <>
      <PageHeader title={i.name} sub={<span className="mono">{target(i)}</span>}>
        <StatusBadge status={i.status} />
        {editable && (
          <>
            <button type="button" onClick={runTest} disabled={testing}>
              {testing ? "Sending…" : "Send a test message"}
            </button>
            <ConfirmButton confirm={`Delete ${i.name}?`} onConfirm={() => del(`/integrations/${i.id}`).then(() => navigate("/integrations"), (x) => toast(x.message, "error"))}>
              Delete
            </ConfirmButton>
          </>
        )}
      </PageHeader>
      {i.last_error && <p className="state error">Last error: {i.last_error}</p>}
      <ErrorNotice error={testError} />
      {test && <TestResult result={test} />}
      <Tabs
        label="Integration"
        tabs={[
          {
            id: "settings",
            label: "Settings",
            render: () => (
              <IntegrationForm
                key={i.version}
                integration={i}
                disabled={!editable}
                submitLabel="Save"
                onSubmit={async (body) => {
                  integration.setData(await put(`/integrations/${i.id}`, body));
                  toast("Integration saved");
                }}
              />
            ),
          },
          { id: "deliveries", label: "Deliveries", render: () => <Deliveries integration={i} /> },
          { id: "dead-letters", label: "Dead letters", render: () => <DeliveryDeadLetters integration={i} /> },
        ]}
      />
    </>
  );
}
