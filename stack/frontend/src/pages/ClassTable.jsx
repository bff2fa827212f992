// One class: every student's grades, absences and predicted outcome, at risk first; sortable by any column
// (keyboard: Tab to a column's button, Enter), filtered by the search box and the "at risk only" switch.
import React, { useMemo, useState } from "react";
import { Link, useParams } from "react-router";
import { flexRender, getCoreRowModel, getFilteredRowModel, getSortedRowModel, useReactTable } from "@tanstack/react-table";
import { Loading, Problem } from "../Problem.jsx";
import { useApi } from "../session.jsx";
import { outcome, percent } from "../words.js";

const columns = [
  { accessorKey: "name", header: "Student",
    cell: ({ row, getValue }) => <Link to={`/students/${row.original.id}`}>{getValue()}</Link> },
  { accessorKey: "G1", header: "G1", enableGlobalFilter: false },
  { accessorKey: "G2", header: "G2", enableGlobalFilter: false },
  { accessorKey: "absences", header: "Absences", enableGlobalFilter: false },
  { accessorKey: "prediction", header: "Outlook", enableGlobalFilter: false, cell: ({ getValue }) => outcome(getValue()) },
  { accessorKey: "probability", header: "Chance of passing", enableGlobalFilter: false, sortUndefined: "last",
    cell: ({ getValue }) => percent(getValue()) },
];

const ARIA_SORT = { asc: "ascending", desc: "descending" };

export function ClassTable() {
  const { classId } = useParams();
  const view = useApi(`/api/v1/classes/${classId}/students`);
  const [sorting, setSorting] = useState([{ id: "probability", desc: false }]); // at risk first
  const [search, setSearch] = useState("");
  const [atRiskOnly, setAtRiskOnly] = useState(false);
  const students = useMemo(
    () => (view.data?.students ?? []).filter((s) => !atRiskOnly || s.prediction === "fail"),
    [view.data, atRiskOnly],
  );
  const table = useReactTable({
    data: students, columns, state: { sorting, globalFilter: search },
    onSortingChange: setSorting, onGlobalFilterChange: setSearch, globalFilterFn: "includesString",
    enableSortingRemoval: false, // a column toggles between ascending and descending
    getCoreRowModel: getCoreRowModel(), getSortedRowModel: getSortedRowModel(), getFilteredRowModel: getFilteredRowModel(),
  });
  if (view.error) return <Problem error={view.error} onRetry={view.reload} />;
  if (!view.data) return <Loading what="the class" />;
  const atRisk = view.data.students.filter((s) => s.prediction === "fail").length;
  const rows = table.getRowModel().rows;
  return (
    <>
      <p><Link to="/classes">All my classes</Link></p>
      <h1>{view.data.name}</h1>
      <p>{view.data.students.length} students, {atRisk} at risk of not passing (model {view.data.model_version}).</p>
      <div className="controls">
        <label htmlFor="search">Find a student</label>
        <input id="search" type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        <label><input type="checkbox" checked={atRiskOnly} onChange={(e) => setAtRiskOnly(e.target.checked)} /> At risk only</label>
      </div>
      <table data-testid="class-table">
        <caption>Students of {view.data.name}, {rows.length} shown</caption>
        <thead>
          {table.getHeaderGroups().map((group) => (
            <tr key={group.id}>
              {group.headers.map((header) => (
                <th key={header.id} scope="col" aria-sort={ARIA_SORT[header.column.getIsSorted()] ?? "none"}>
                  <button type="button" onClick={header.column.getToggleSortingHandler()}>
                    {flexRender(header.column.columnDef.header, header.getContext())}
                    <span aria-hidden="true">{{ asc: " ▲", desc: " ▼" }[header.column.getIsSorted()] ?? ""}</span>
                  </button>
                </th>
              ))}
            </tr>
          ))}
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.id} className={row.original.prediction === "fail" ? "at-risk" : undefined}>
              {row.getVisibleCells().map((cell) => (
                <td key={cell.id}>{flexRender(cell.column.columnDef.cell, cell.getContext())}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length === 0 && <p>No student matches.</p>}
    </>
  );
}
