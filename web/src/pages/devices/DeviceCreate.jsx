// A new device; `?dev_eui=` pre-fills it (registering an unknown device).
import { post } from "../../lib/api.js";
import { navigate, useLocation } from "../../lib/router.js";
import { PageHeader } from "../../components/PageHeader.jsx";
import { DeviceForm } from "./DeviceForm.jsx";

export function DeviceCreate() {
  const { query } = useLocation();
  return (
    <>
      <PageHeader title="Add a device" />
      <DeviceForm
        device={{ dev_eui: query.dev_eui, name: query.name }}
        submitLabel="Create device"
        onSubmit={async (body) => {
          const device = await post("/devices", body);
          navigate(`/devices/${device.id}`);
        }}
        onCancel={() => navigate("/devices")}
      />
    </>
  );
}
