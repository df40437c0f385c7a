// Every page and the route it answers. The flow editor and the code editor are loaded on first
// use: React Flow and CodeMirror make most of the bundle, and the fleet view needs neither.
import { lazy } from "react";
import { DeviceList } from "./pages/devices/DeviceList.jsx";
import { DeviceDetail } from "./pages/devices/DeviceDetail.jsx";
import { DeviceCreate } from "./pages/devices/DeviceCreate.jsx";
import { LabelsPage } from "./pages/devices/LabelsPage.jsx";
import { FlowList } from "./pages/flows/FlowList.jsx";
import { FunctionList } from "./pages/functions/FunctionList.jsx";
import { IntegrationList } from "./pages/integrations/IntegrationList.jsx";
import { IntegrationPage } from "./pages/integrations/IntegrationPage.jsx";
import { StorageList } from "./pages/storages/StorageList.jsx";
import { StoragePage } from "./pages/storages/StoragePage.jsx";
import { DeadLetters } from "./pages/deadletters/DeadLetters.jsx";
import { UnknownDevices } from "./pages/admin/UnknownDevices.jsx";
import { Users } from "./pages/admin/Users.jsx";
import { Account } from "./pages/admin/Account.jsx";

const FlowPage = lazy(() => import("./pages/flows/FlowPage.jsx"));
const FunctionPage = lazy(() => import("./pages/functions/FunctionPage.jsx"));

export const routes = [
  ["/devices", DeviceList],
  ["/devices/new", DeviceCreate],
  ["/devices/:id", DeviceDetail],
  ["/labels", LabelsPage],
  ["/flows", FlowList],
  ["/flows/:id", FlowPage],
  ["/functions", FunctionList],
  ["/functions/:id", FunctionPage],
  ["/integrations", IntegrationList],
  ["/integrations/:id", IntegrationPage],
  ["/storages", StorageList],
  ["/storages/:id", StoragePage],
  ["/dead-letters", DeadLetters],
  ["/unknown-devices", UnknownDevices],
  ["/users", Users],
  ["/account", Account],
];
