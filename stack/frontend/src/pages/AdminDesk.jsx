// The administrator's privacy desk: find a student (then export or erase on their page), and the effective settings.
import React, { useMemo, useState } from "react";
import { Link, useLocation } from "react-router";
import { Loading, Problem } from "../Problem.jsx";
import { useApi } from "../session.jsx";

export function AdminDesk() {
  const { state } = useLocation();
  const classes = useApi("/api/v1/classes");
  const settings = useApi("/api/v1/admin/settings");
  const [search, setSearch] = useState("");
  const students = useMemo(() => {
    const all = new Map();
    for (const c of classes.data ?? []) for (const s of c.students) all.set(s.id, { ...s, className: c.name });
    return [...all.values()];
  }, [classes.data]);
  const found = search.trim().length < 2 ? [] : students.filter((s) => s.name.toLowerCase().includes(search.trim().toLowerCase())).slice(0, 20);
  return (
    <>
      <h1>Privacy desk</h1>
      {state?.notice && <p role="status">{state.notice}</p>}
      <section aria-labelledby="find-title">
        <h2 id="find-title">Find a student</h2>
        {classes.error && <Problem error={classes.error} onRetry={classes.reload} />}
        <label htmlFor="find">Name (two letters or more)</label>
        <input id="find" type="search" value={search} onChange={(e) => setSearch(e.target.value)} disabled={!classes.data} />
        <ul aria-live="polite" data-testid="found">
          {found.map((s) => <li key={s.id}><Link to={`/students/${s.id}`}>{s.name}</Link> ({s.className})</li>)}
        </ul>
        {search.trim().length >= 2 && found.length === 0 && classes.data && <p>No student of any class has that name.</p>}
      </section>
      <section aria-labelledby="settings-title">
        <h2 id="settings-title">Effective settings</h2>
        {settings.error && <Problem error={settings.error} onRetry={settings.reload} />}
        {!settings.data && !settings.error && <Loading what="the settings" />}
        {settings.data && (
          <table data-testid="settings">
            <caption>What the running API uses (secrets are never shown)</caption>
            <tbody>
              {Object.entries(settings.data).map(([name, value]) => (
                <tr key={name}><th scope="row">{name}</th><td>{typeof value === "object" ? JSON.stringify(value) : String(value)}</td></tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
