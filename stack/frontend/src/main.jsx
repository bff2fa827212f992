import React from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, Navigate, Route, Routes } from "react-router";
import { AdminDesk } from "./pages/AdminDesk.jsx";
import { Classes } from "./pages/Classes.jsx";
import { ClassTable } from "./pages/ClassTable.jsx";
import { Login } from "./pages/Login.jsx";
import { StudentDetail } from "./pages/StudentDetail.jsx";
import { StudentHome } from "./pages/StudentHome.jsx";
import { SessionProvider, useSession } from "./session.jsx";
import "./style.css";

const HOME = { student: "/me", teacher: "/classes", administrator: "/admin" };

function Shell() {
  const { session, signOut } = useSession();
  if (!session) return <Login />;
  return (
    <>
      <header>
        <span>EduPro — signed in as {session.role}</span>
        <button onClick={signOut}>Sign out</button>
      </header>
      <main>
        <Routes>
          <Route path="/" element={<Navigate to={HOME[session.role] ?? "/me"} replace />} />
          <Route path="/me" element={<StudentHome />} />
          <Route path="/classes" element={<Classes />} />
          <Route path="/classes/:classId" element={<ClassTable />} />
          <Route path="/students/:studentId" element={<StudentDetail />} />
          <Route path="/admin" element={<AdminDesk />} />
          <Route path="*" element={<p role="alert">There is no such page. <a href="/">Back to my start page</a></p>} />
        </Routes>
      </main>
    </>
  );
}

createRoot(document.getElementById("root")).render(
  <SessionProvider>
    <BrowserRouter>
      <Shell />
    </BrowserRouter>
  </SessionProvider>,
);
