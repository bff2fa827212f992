// Who is signed in, kept for the browser tab (sessionStorage), and the hook pages use to load data.
import React, { createContext, useCallback, useContext, useEffect, useState } from "react";
import { api } from "./api.js";

const SessionContext = createContext(null);
const KEY = "edupro.session";

export function SessionProvider({ children }) {
  const [session, setSession] = useState(() => JSON.parse(sessionStorage.getItem(KEY) || "null"));
  const signIn = useCallback((value) => {
    sessionStorage.setItem(KEY, JSON.stringify(value));
    setSession(value);
  }, []);
  const signOut = useCallback(() => {
    sessionStorage.removeItem(KEY);
    setSession(null);
  }, []);
  return <SessionContext.Provider value={{ session, signIn, signOut }}>{children}</SessionContext.Provider>;
}

export const useSession = () => useContext(SessionContext);

// GET a path with the session's token: { data, error, reload }.
export function useApi(path) {
  const { session } = useSession();
  const [state, setState] = useState({ data: null, error: null });
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    let live = true;
    setState({ data: null, error: null });
    api(session.token, path).then(
      (data) => live && setState({ data, error: null }),
      (error) => live && setState({ data: null, error }),
    );
    return () => {
      live = false;
    };
  }, [session.token, path, attempt]);
  return { ...state, reload: () => setAttempt((n) => n + 1) };
}
