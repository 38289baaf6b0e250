"""The chaos-convergence harness (issue 9; RELIABILITY.md section 1).

A scenario of sales orders, purchase orders with partial receivals, returns and inventory
adjustments is run through the real worker path against both sandboxes twice from one seed:
once clean, once with faults injected into both sandboxes and workers killed mid-run. The final
states must be equal, with no duplicate and no loss.

It lives in bench/ beside the other measurements because its full size is a command that prints a
table (`make chaos`); the CI tests (tests/bench/chaos/test_convergence.py, test_events.py) run
a small size of the same command, plus unit tests of the pieces. The modules are separate so that
later harnesses can take only what they need — the fault injector and the state comparison know
nothing of this scenario:

- faults.py    the fault plan, the seeded injector and its tally (general), and the `responses`
               transport that applies it to HTTP calls;
- workers.py   forked workers that can be SIGKILLed at a deterministic point; the shared clock;
- state.py     the canonical final state of both sandboxes, its comparison, and the audit that
               counts duplicates and losses in one run;
- scenario.py  the business: the book, and the phases of events;
- runner.py    beat, broker and workers driving one run to quiet after each phase;
- events.py    with --events: the real event consumer and event server (forked processes, a real
               WebSocket) and the warehouse's webhooks, with the event faults of issue 11;
- report.py    the table and the verdict; __main__.py the command.

Importing this package imports nothing else: the command sets its environment before Django."""
