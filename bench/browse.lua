-- Browsing as shoppers do: the home page, listings, product pages and searches, in turn.
local paths = {
  "/", "/products", "/products/chengkou-larou-500g", "/search?q=%E8%85%8A%E8%82%89",
  "/products?category=larou", "/products/chengkou-larou-500g", "/", "/search?q=%E8%9C%82%E8%9C%9C",
}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1])
end
