// The frame of every page: navigation (a sidebar, or a menu on narrow screens), who is logged
// in, and the page itself.
import { useState } from "react";
import { canEdit, isAdmin, useMe } from "../lib/auth.js";
import { useLocation } from "../lib/router.js";
import { setToken } from "../lib/session.js";

function sections(me) {
  const out = [
    { title: "Fleet", items: [["/devices", "Devices"], ["/labels", "Labels"]] },
    { title: "Automation", items: [["/flows", "Flows"], ["/functions", "Functions"]] },
    {
      title: "Delivery",
      items: [["/integrations", "Integrations"], ["/storages", "Storages"], ["/dead-letters", "Dead letters"]],
    },
  ];
  const admin = [];
  if (canEdit(me)) admin.push(["/unknown-devices", "Unknown devices"]);
  if (isAdmin(me)) admin.push(["/users", "Users"]);
  admin.push(["/account", "Account & API keys"]);
  out.push({ title: "Administration", items: admin });
  return out;
}

export function Layout({ children }) {
  const me = useMe();
  const { path } = useLocation();
  const [open, setOpen] = useState(false);
  return (
    <div className="shell">
      <a className="skip" href="#main" onClick={(e) => {
        e.preventDefault();
        document.getElementById("main")?.focus();
      }}>
        Skip to content
      </a>
      <header className="topbar">
        <button type="button" className="menu-button" aria-expanded={open} aria-controls="nav" onClick={() => setOpen(!open)}>
          Menu
        </button>
        <a className="brand" href="#/devices">
          Device Manager
        </a>
        <div className="who">
          <span>
            {me.username} <span className="role">{me.role}</span>
          </span>
          <a href="/docs" target="_blank" rel="noreferrer">
            API docs
          </a>
          <button type="button" onClick={() => setToken(null)}>
            Log out
          </button>
        </div>
      </header>
      <nav id="nav" className={open ? "open" : ""} aria-label="Main" onClick={() => setOpen(false)}>
        {sections(me).map((s) => (
          <div key={s.title} className="nav-section">
            <h2>{s.title}</h2>
            <ul>
              {s.items.map(([to, label]) => (
                <li key={to}>
                  <a href={`#${to}`} aria-current={path === to || path.startsWith(`${to}/`) ? "page" : undefined}>
                    {label}
                  </a>
                </li>
              ))}
            </ul>
          </div>
        ))}
      </nav>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
