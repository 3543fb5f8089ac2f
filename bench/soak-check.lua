-- bench/soak-check.lua: the wrk script of bench/soak's HTTP and TLS
-- loads.  Each request asks for one of the files the soak wrote
-- (/f/0 .. /f/N-1, a few hundred bytes to 48 KiB of random bytes each) and
-- each answer must be 200 with exactly that file as its body: a byte
-- changed, lost, added or taken from another answer is counted as bad.
-- Run with -t equal to -c: one connection per thread, so a thread's answers
-- come in the order of its requests and a queue says which file each one
-- must be (a socket error would put the queue out of step, but the soak
-- fails on socket errors anyway).
--
-- Environment (set by bench/soak):
--   SOAK_WWW        the directory of the files (its f/ subdirectory)
--   SOAK_NFILES     how many files
--   SOAK_DELAY_MS   wait before each request (open loop of sorts: wrk has
--                   no rate; c * 1000 / SOAK_DELAY_MS is about the rate)
--   SOAK_CLOSE_EVERY every Nth request asks "Connection: close", so new
--                   connections (TLS handshakes, resumed by ticket) mix
--                   with keep-alive ones; 0 never
--   SOAK_LOG        prefix of each thread's file of interval lines:
--                   "unix_s answers bad p99_us" every SOAK_INTERVAL_S
--                   seconds (wall clock), latency measured from the
--                   request's write to its whole answer
--   SOAK_INTERVAL_S the interval, seconds
-- At the end wrk prints "soak-check: checked=N bad=M".

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } soak_timespec;
int clock_gettime(int clk, soak_timespec *ts);
]]
local ts = ffi.new("soak_timespec")
local function now()
	ffi.C.clock_gettime(0, ts)	-- CLOCK_REALTIME, as the soak's events
	return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local www = os.getenv("SOAK_WWW")
local nfiles = tonumber(os.getenv("SOAK_NFILES") or "0")
local gap = tonumber(os.getenv("SOAK_DELAY_MS") or "0")
local close_every = tonumber(os.getenv("SOAK_CLOSE_EVERY") or "0")
local log_prefix = os.getenv("SOAK_LOG")
local interval = tonumber(os.getenv("SOAK_INTERVAL_S") or "5")

local threads = {}
function setup(thread)
	table.insert(threads, thread)
	thread:set("tid", #threads)
end

-- Per thread (each has its own Lua state): the expected bodies, the
-- queue of files asked for, the counts and this interval's latencies.
local bodies = {}
local asked, head, tail = {}, 1, 0
local sent_at = {}
local seq = 0
checked, bad = 0, 0
local lat, ibad, next_t, logf = {}, 0, nil, nil
-- wrk calls the first thread's request() once before it starts, to see
-- whether requests are pipelined: that one is never sent.
local unsent = 0

function init(args)
	for i = 0, nfiles - 1 do
		local f = assert(io.open(www .. "/f/" .. i, "rb"))
		bodies[i] = f:read("*a")
		f:close()
	end
	if log_prefix then
		logf = assert(io.open(log_prefix .. "-" .. tostring(tid), "w"))
	end
	next_t = (math.floor(now() / interval) + 1) * interval
	if tid == 1 then
		unsent = 1
	end
end

local function flush_interval(t)
	if logf then
		table.sort(lat)
		local p99 = 0
		if #lat > 0 then
			p99 = lat[math.max(1, math.ceil(#lat * 0.99))]
		end
		logf:write(string.format("%.3f %d %d %.1f\n", next_t, #lat, ibad, p99 * 1e6))
		logf:flush()
	end
	lat, ibad = {}, 0
	while next_t <= t do
		next_t = next_t + interval
	end
end

function delay()
	return gap
end

function request()
	if unsent > 0 then
		unsent = unsent - 1
		return wrk.format("GET", "/f/0")
	end
	seq = seq + 1
	local i = (seq * 7919) % nfiles
	tail = tail + 1
	asked[tail] = i
	sent_at[tail] = now()
	local headers = {}
	if close_every > 0 and seq % close_every == 0 then
		headers["Connection"] = "close"
	end
	return wrk.format("GET", "/f/" .. i, headers)
end

function response(status, headers, body)
	local t = now()
	local i = asked[head]
	local t0 = sent_at[head]
	asked[head], sent_at[head] = nil, nil
	head = head + 1
	checked = checked + 1
	if i == nil or status ~= 200 or body ~= bodies[i] then
		bad = bad + 1
		ibad = ibad + 1
	end
	if t >= next_t then
		flush_interval(t)
	end
	if t0 then
		lat[#lat + 1] = t - t0
	end
end

function done(summary, latency, requests)
	local c, b = 0, 0
	for _, thread in ipairs(threads) do
		c = c + (thread:get("checked") or 0)
		b = b + (thread:get("bad") or 0)
	end
	io.write(string.format("soak-check: checked=%d bad=%d\n", c, b))
end
