%% spawn_erlang.erl — the Erlang reference for M31's spawn rows (`make
%% bench`, tests/bench/run.sh). Compiled with erlc (a module, not an
%% `erl -eval` string: erl_eval interprets funs, which would make Erlang
%% look far slower than it is), run as
%%
%%   erl -noshell -pa DIR -run spawn_erlang main N CALLS RUNS
%%
%% Per round (RUNS rounds, medians printed):
%%   spawn      spawn N processes (each waits for one message): us each
%%   spawn_rt   those N spawns plus one message round trip with each (the
%%              parent sends ping, the child answers pong and ends), as
%%              M31's spawn + sys.collect: us per process
%%   call       a loop of CALLS calls of a local function that is not
%%              inlined: ns per call (loop included, as in M31's row)
%% Prints "name median min max" lines, then halts.
-module(spawn_erlang).
-export([main/1]).

main([NS, CallsS, RunsS]) ->
    N = list_to_integer(NS),
    Calls = list_to_integer(CallsS),
    Runs = list_to_integer(RunsS),
    _ = round(N div 10 + 1, Calls div 10 + 1), % warm-up
    Rounds = [round(N, Calls) || _ <- lists:seq(1, Runs)],
    report("spawn", [S || {S, _, _} <- Rounds]),
    report("spawn_rt", [R || {_, R, _} <- Rounds]),
    report("call", [C || {_, _, C} <- Rounds]),
    halt(0).

round(N, Calls) ->
    Self = self(),
    T0 = erlang:monotonic_time(nanosecond),
    Pids = [spawn(fun() -> child(Self) end) || _ <- lists:seq(1, N)],
    T1 = erlang:monotonic_time(nanosecond),
    ok = collect(Pids),
    T2 = erlang:monotonic_time(nanosecond),
    C0 = erlang:monotonic_time(nanosecond),
    Calls = calls(Calls, 0),
    C1 = erlang:monotonic_time(nanosecond),
    {(T1 - T0) / N / 1000, (T2 - T0) / N / 1000, (C1 - C0) / Calls}.

child(Parent) ->
    receive
        {Parent, ping} -> Parent ! {self(), pong}
    end.

collect([]) -> ok;
collect([P | Ps]) ->
    P ! {self(), ping},
    receive
        {P, pong} -> collect(Ps)
    end.

calls(0, Acc) -> Acc;
calls(N, Acc) -> calls(N - 1, id(Acc)).

id(X) -> X + 1.

report(Name, Values) ->
    S = lists:sort(Values),
    Median = lists:nth((length(S) + 1) div 2, S),
    io:format("~s ~.4f ~.4f ~.4f~n", [Name, Median, hd(S), lists:last(S)]).
