-- API buyers: each wrk thread is one buyer (its token from BUYER_TOKENS, comma-separated) with
-- one connection, putting a unit of a SKU in its cart, then checking out, again and again.
local tokens = {}
for t in string.gmatch(os.getenv("BUYER_TOKENS") or "", "[^,]+") do tokens[#tokens + 1] = t end
local skus = {}
for s in string.gmatch(os.getenv("BUYER_SKUS") or "", "[^,]+") do skus[#skus + 1] = s end
local next_thread = 0

setup = function(thread)
  next_thread = next_thread + 1
  thread:set("token", tokens[((next_thread - 1) % #tokens) + 1])
  thread:set("offset", next_thread)
end

local step = 0
request = function()
  step = step + 1
  local headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
  if step % 2 == 1 then
    local sku = skus[((step + offset) % #skus) + 1]
    return wrk.format("POST", "/api/v1/cart/items", headers, '{"sku_id":' .. sku .. ',"quantity":1}')
  end
  return wrk.format("POST", "/api/v1/checkout", headers,
    '{"address":{"recipient":"李华","phone":"13800138000","region_code":"370102","detail":"历下区泉城路 1 号"}}')
end
