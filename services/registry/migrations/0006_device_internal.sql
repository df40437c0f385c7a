-- The compact device view other services cache (ingest, flow-orchestrator).
CREATE VIEW device_cache_docs AS
SELECT d.id, d.dev_eui,
       json_build_object(
         'id', d.id, 'dev_eui', d.dev_eui, 'name', d.name, 'status', d.status,
         'expected_transmit_time', d.expected_transmit_time, 'last_seen_at', d.last_seen_at,
         'version', d.version,
         'labels', COALESCE((SELECT json_agg(json_build_object('id', l.id, 'name', l.name) ORDER BY l.name)
                               FROM device_labels dl JOIN labels l ON l.id = dl.label_id
                              WHERE dl.device_id = d.id), '[]'::json)) AS doc
  FROM devices d;
