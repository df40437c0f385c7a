// Logged out: the login page. Logged in: who the user is (GET /auth/me), then the page the
// URL names inside the layout.
import { Suspense, useEffect, useState } from "react";
import { get } from "./lib/api.js";
import { MeContext } from "./lib/auth.js";
import { match, navigate, useLocation } from "./lib/router.js";
import { getToken, onTokenChange } from "./lib/session.js";
import { Layout } from "./components/Layout.jsx";
import { ErrorNotice, Loading } from "./components/States.jsx";
import { ToastProvider } from "./components/Toasts.jsx";
import { Login } from "./pages/Login.jsx";
import { routes } from "./routes.jsx";

function Page() {
  const { path } = useLocation();
  useEffect(() => {
    if (path === "/") navigate("/devices", { replace: true });
  }, [path]);
  for (const [pattern, Component] of routes) {
    const params = match(pattern, path);
    // The key remounts the page when its id changes, so no state leaks from one to the next.
    if (params) return <Component key={path} {...params} />;
  }
  return path === "/" ? null : <ErrorNotice error={new Error(`No page at ${path}.`)} />;
}

export function App() {
  const [token, setTokenState] = useState(getToken);
  const [expired, setExpired] = useState(false);
  const [me, setMe] = useState(null);
  const [error, setError] = useState(null);

  useEffect(
    () =>
      onTokenChange((t, reason) => {
        setExpired(reason === "expired");
        setTokenState(t);
        setMe(null);
        setError(null);
      }),
    [],
  );
  useEffect(() => {
    if (token) get("/auth/me").then(setMe, setError);
  }, [token]);

  if (!token) return <Login expired={expired} />;
  if (!me) return error ? <ErrorNotice error={error} /> : <Loading label="Signing in…" />;
  return (
    <MeContext.Provider value={me}>
      <ToastProvider>
        <Layout>
          <Suspense fallback={<Loading />}>
            <Page />
          </Suspense>
        </Layout>
      </ToastProvider>
    </MeContext.Provider>
  );
}
