-- wrk script for the ingest benchmark: ChirpStack v4 uplinks with a unique deduplicationId per
-- request, spread over DEVICES devices (dev_eui "70b3d5" + index, as dm-load makes them).
--   INGEST_SECRET=... DEVICES=100 wrk -t2 -c32 -d10s -s tools/bench/ingest_wrk.lua \
--     'http://127.0.0.1:8001/api/v1/ingest/chirpstack?event=up'
local threads = {}
local devices = tonumber(os.getenv("DEVICES") or "100")

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  counter = 0
  salt = os.time()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. (os.getenv("INGEST_SECRET") or "")
end

request = function()
  counter = counter + 1
  local dev = counter % devices
  local body = string.format(
    '{"deduplicationId":"%08x-%04x-4000-8000-%012x","time":"2026-11-27T10:00:00.123456+00:00",' ..
    '"deviceInfo":{"tenantId":"52f14cd4-c6f1-4fbd-8f87-4025e1d49242","tenantName":"ChirpStack",' ..
    '"applicationId":"17c82e96-be03-4f38-aef3-f83d48582d97","applicationName":"load",' ..
    '"deviceProfileId":"14855bf7-d10d-4aee-b618-ebfcb64dc7ad","deviceProfileName":"load-profile",' ..
    '"deviceName":"load-%d","devEui":"70b3d5%010x","tags":{}},"devAddr":"00189440","adr":true,"dr":5,' ..
    '"fCnt":%d,"fPort":1,"confirmed":false,"data":"AQID","object":{"temperature":21.5,"humidity":40},' ..
    '"rxInfo":[{"gatewayId":"0016c001f153a14c","uplinkId":4217106255,"rssi":-36,"snr":10.5,' ..
    '"context":"E3OWOQ==","metadata":{"region_name":"eu868","region_common_name":"EU868"}}],' ..
    '"txInfo":{"frequency":867100000,"modulation":{"lora":{"bandwidth":125000,"spreadingFactor":7,' ..
    '"codeRate":"CR_4_5"}}}}',
    salt % 0xffffffff, tid, counter, dev, dev, counter)
  return wrk.format(nil, nil, nil, body)
end
