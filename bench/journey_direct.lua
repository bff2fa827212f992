-- wrk straight at one backend instance, each request with the next account's token (bench/capacity.py writes
-- the tokens file: "TOKEN STUDENT_ID" per line). Arguments after --: the tokens file, the path.
local tokens, n, path = {}, 0, "/api/v1/students/me"

function init(args)
  path = args[2] or path
  for line in io.lines(args[1]) do
    local token, student = line:match("(%S+) (%d+)")
    tokens[#tokens + 1] = {token, student}
  end
end

function request()
  n = n + 1
  local t = tokens[(n % #tokens) + 1]
  local headers = {["Authorization"] = "Bearer " .. t[1], ["X-Disclosure-Purpose"] = "EduPro capacity benchmark",
                   ["Content-Type"] = "application/json"}
  if path == "/api/v1/predictions" then
    return wrk.format("POST", path, headers, '{"student_id": ' .. t[2] .. '}')
  end
  return wrk.format("GET", path, headers)
end
