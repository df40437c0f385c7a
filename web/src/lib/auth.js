// Who is logged in (GET /auth/me) and what their role lets them do. The console hides what a
// role may not do; the API refuses it anyway.
import { createContext, useContext } from "react";

export const MeContext = createContext(null);

export function useMe() {
  return useContext(MeContext);
}

export function canEdit(me) {
  return me?.role === "editor" || me?.role === "admin";
}

export function isAdmin(me) {
  return me?.role === "admin";
}
