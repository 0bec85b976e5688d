-- serve_load.lua — wrk script for bench/serve.sh: POST one Sudoku a request to a solve route.
--   wrk -t1 -cN -dDs --latency -s bench/serve_load.lua http://127.0.0.1:PORT -- PUZZLES CONTEXT [HALT] [MAX_STEPS]
-- PUZZLES: a CSV whose first column is the puzzle (a header line is skipped) or one puzzle a line;
-- the requests cycle through it in order, each wrk thread from its own offset. CONTEXT: the
-- context name (bench/sudoku9). Ends with one line for the script to read:
--   serve_load requests=N duration_s=S rps=R p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. mean_ms=..
--              errors=E non2xx=X mean_steps=M
-- (mean_steps: the ACT steps per answered request, read from the responses' "steps").

local threads = {}
local counter = 0

function setup(thread)
	thread:set("id", counter)
	counter = counter + 1
	table.insert(threads, thread)
end

function init(args)
	local file, context = args[1], args[2]
	local halt, max_steps = args[3] or "adaptive", tonumber(args[4] or "16")
	local path = "/v1/contexts/" .. context .. "/solve"
	local headers = { ["Content-Type"] = "application/json" }
	reqs = {}
	for line in io.lines(file) do
		local p = line:match("^([^,]+)")
		if p and #p == 81 and p ~= "puzzle" then
			local body = string.format('{"puzzle": "%s", "learner": "bench-%d", "halt": "%s", "max_steps": %d}',
				p, #reqs % 50, halt, max_steps)
			table.insert(reqs, wrk.format("POST", path, headers, body))
		end
	end
	if #reqs == 0 then
		error("serve_load.lua: no puzzles in " .. tostring(file))
	end
	nreq = #reqs
	-- threads start apart so that they do not send the same puzzles at the same time
	next_i = (id * 7919) % nreq
	steps_sum, answered = 0, 0
end

function request()
	next_i = next_i % nreq + 1
	return reqs[next_i]
end

function response(status, headers, body)
	if status == 200 then
		local s = body:match('"steps"%s*:%s*(%d+)')
		if s then
			steps_sum = steps_sum + tonumber(s)
			answered = answered + 1
		end
	end
end

function done(summary, latency, requests)
	local steps, n = 0, 0
	for _, t in ipairs(threads) do
		steps = steps + (t:get("steps_sum") or 0)
		n = n + (t:get("answered") or 0)
	end
	local e = summary.errors
	local dur = summary.duration / 1e6
	io.write(string.format(
		"serve_load requests=%d duration_s=%.3f rps=%.3f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f mean_ms=%.2f errors=%d non2xx=%d mean_steps=%.3f\n",
		summary.requests, dur, summary.requests / dur,
		latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
		latency.max / 1000, latency.mean / 1000,
		e.connect + e.read + e.write + e.timeout, e.status, n > 0 and steps / n or 0))
end
