-- Argo CD health of a sncguard.io policy (ZoneSpread, TenantPolicy, BackupPolicy): one script serves all three.
--   Progressing  sncguard has not evaluated it yet, or not its current generation
--   Degraded     Ready=False: the spec cannot be evaluated (InvalidSpec, VeleroNotInstalled)
--   Degraded     Compliant=False: the message is the most severe failing finding
--   Healthy      Compliant=True
-- Lua 5.1, as Argo CD runs it. argocd/*-patch.yaml carry this file: run argocd/render_cm_patch.py --write.
local hs = {}

local function condition(status, type_)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == type_ then
      return c
    end
  end
  return nil
end

local function describe(f)
  local text = f.rule or "?"
  local r = f.resource
  if r ~= nil and r.name ~= nil then
    local where = r.name
    if r.namespace ~= nil and r.namespace ~= "" then
      where = r.namespace .. "/" .. r.name
    end
    text = text .. " " .. (r.kind or "") .. " " .. where
  end
  return text .. ": " .. (f.message or "")
end

local status = obj.status
if status == nil or status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for sncguard's first evaluation"
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for sncguard to evaluate generation " .. tostring(generation)
  return hs
end

local ready = condition(status, "Ready")
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = (ready.reason or "NotReady") .. ": " .. (ready.message or "")
  return hs
end

local compliant = condition(status, "Compliant")
if compliant ~= nil and compliant.status == "True" then
  hs.status = "Healthy"
  hs.message = compliant.message or "Compliant"
  return hs
end
if compliant ~= nil and compliant.status == "False" then
  hs.status = "Degraded"
  local top = nil
  if status.findings ~= nil then
    for _, f in ipairs(status.findings) do
      if f.result == "fail" then
        top = f
        break
      end
    end
    if top == nil then
      top = status.findings[1]
    end
  end
  if top == nil then
    hs.message = compliant.message or "Not compliant"
    return hs
  end
  hs.message = describe(top)
  local failing = status.summary and status.summary.fail
  if failing ~= nil and failing > 1 then
    hs.message = hs.message .. " (and " .. tostring(failing - 1) .. " more failing)"
  end
  return hs
end

hs.status = "Progressing"
hs.message = "Waiting for sncguard's verdict"
return hs
