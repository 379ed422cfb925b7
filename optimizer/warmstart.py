"""A first plan for the solver to improve on, found from the LP relaxation.

Whole reservations are what makes the program hard: its LP relaxation is solved in a fraction
of a second, but branch-and-bound can take minutes to find a good integer plan on its own. So
before the real solve:

1. solve the LP relaxation; then, up to ``COVER_ROUNDS`` times, add the valid inequalities
   it breaks and solve it again: the site-shortfall ones always, and on programs of
   ``COVERS_FROM`` variables or more the rounding inequality of each group of whole units
   (reserved instances, servers) whose fraction the relaxation fills (``cuts.py``);
2. probe the placements (``_probe_placements``): each option of each single-venue workload
   and gang run held in the relaxation in turn; an option without a relaxation is held out,
   and the least of a placement's options' relaxations raises the bound;
3. place each single-venue workload where the relaxation put most of it, and solve the
   relaxation again with those placements fixed (so the reservations follow the workload);
4. round the relaxation (``_rounded``): when that plan is within the requested gap of the
   bound, it is the start;
5. otherwise, when the relaxation buys fractions of servers, settle the owned fleet first:
   solve the program in which only the servers ordered and kept are whole, the rest relaxed,
   to ``FLEET_GAP``; hold that fleet, solve the relaxation again around it and round it as in
   step 4. The fleet links workloads across months and under one capex budget, and rounding
   it together with everything else loses what its relaxation gained (on the plan of 100
   workloads over 60 months, every such rounding broke the budget or a site's power either
   way); the rest rounds well around it (``benchmarks/README.md``, "Scale");
6. allow each reservation count only the two whole numbers around its relaxed value, keep
   each workload on the cloud regions the relaxation used (sites stay open: whole servers
   leave room the relaxation did not have), and solve that restricted program (server orders
   stay whole numbers, held where step 5 held them) with each tiered total kept in the tier
   the relaxation reached — a small, quick MILP, stopped at 0.2% or at the first plan within
   the requested gap of the relaxation's bound; when that plan is not yet within the gap and
   the plan is small, solve once more from it with the cloud regions and tiers reopened
   (whole reservations can leave room where the relaxation put nothing); when the restricted
   program has no plan at all, solve it again with the regions and tiers reopened;
7. hand the best of these plans to the solver as its starting incumbent.

The relaxation's cost is also a lower bound on every plan, so when the start is already within
the requested gap of it the start is the answer and the full program need not be solved. The
start never changes what is optimal: otherwise the full program is still solved to the
requested gap, and a start that cannot be completed is simply not used.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, replace

from tco.pricing.models import Purchase

from .cuts import add_shortfall_cuts, add_unit_covers
from .gaps import relative_gap, sure_target
from .model import Model
from .program import Var
from .solver import SolverName, SolveStatus, node_budget, run

_EPS = 1e-6
# Rounding leaves the indicators the relaxation used only in part to the solver when there are
# at most this many: on the research lab (102) that rounds to a plan 6% above the bound where
# setting them all to 1 gave 23%; on 200 workloads over 36 months (thousands) the search took
# 26 s for a plan 2.9% above, where setting them to 1 gives 0.8% in 13 s
FREE_INDICATORS_AT_MOST = 500
# Reopening cloud regions for a second restricted solve pays off on plans of up to a few
# thousand venue-months; beyond that the second solve costs more than the full program.
REOPEN_AT_MOST = 2000
# The relaxations (linear programs) run to the end: they are the map and the bound of every
# step after them, and their work does not depend on the machine. On 400 workloads over 36
# months (313,000 columns) the first takes about a minute.
# The restricted programs are small: solving them closer than the final gap costs little and
# gives the full solve a start it rarely needs to improve.
RESTRICTED_GAP = 0.002
# Rounds of valid inequalities after the first relaxation (each re-solves it from its last
# basis); the rounding inequalities of whole units only on programs of COVERS_FROM variables
# or more, below which the solver's own cuts close such gaps sooner (docs/solving.md)
COVER_ROUNDS = 3
COVERS_FROM = 10_000
# The fleet first, when the rounded relaxation is not within the gap: the program with only
# the fleet whole may take this share of the whole search's nodes (``solver.node_budget``),
# and stops within FLEET_GAP of its own bound
FLEET_SHARE = 0.6
FLEET_GAP = 0.005
# the fleet step's search runs without HiGHS's root heuristics that search a smaller program
# (RENS and the reduced-cost one): without them four-year-fleet's step took 1.1 s instead of
# 3.8 s, to the same plan; that of the generated plan of 100 workloads over 36 months 29 s
# instead of 53 s, to a plan 0.02% cheaper, within both gaps (benchmarks/README.md)
FLEET_ROOT_SUB_MIPS = False
# each restricted program and rounding may take this share of the whole search's nodes
RESTRICTED_SHARE = 0.25
# Probing the placements costs a relaxation per option of every single-venue workload and
# gang run: done when there are at most this many options in all, on programs of at most
# PROBE_COLUMNS columns (on 400 workloads over 36 months, 313,000 columns, a relaxation
# solved again takes seconds, and probing left the rest of the warm start no time)
PROBE_AT_MOST = 64
PROBE_COLUMNS = 20_000
# A fleet hint stands in for the fleet step only when its plan is within this of the
# relaxation's bound (benchmarks/README.md, "Analyses solve only what can change their answer")
HINT_WITHIN = 0.25


@dataclass(frozen=True)
class FleetHint:
    """A plan known to be close to the one sought (the base decisions held at a lever value,
    in an analysis): its values by variable name (0 for a name it lacks) and its NPV."""

    values: dict[str, float]
    npv: float


@dataclass(frozen=True)
class Start:
    """A feasible plan to start from, with how far it can be from the best one."""

    values: dict[Var, float]
    objective: float      # NPV of this plan
    bound: float          # NPV of the LP relaxation: no plan costs less
    seconds: float        # solver time spent finding it

    @property
    def gap(self) -> float:
        """Relative gap to the bound (``gaps.relative_gap``)."""
        gap = relative_gap(self.objective, self.bound)
        return math.inf if gap is None else gap

    def load(self) -> None:
        """Put this plan's values into the model's variables."""
        for var, value in self.values.items():
            var.varValue = value


def start_of(model: Model, lower_bound: float, seconds: float) -> Start:
    values = {v: v.varValue for v in model.prob.vars if v.varValue is not None}
    return Start(values, model.prob.cost(), lower_bound, seconds)


@dataclass(frozen=True)
class Probed:
    """What probing the placements proved: a bound on every plan, and the seconds spent."""

    bound: float
    seconds: float
    ruled_out: int        # placement indicators proven 0 in every plan (held at 0 from now)


def _probe_placements(model: Model, solver: SolverName,
                      groups: dict[str, list[Var]]) -> Probed | None:
    """Each placement decision (exactly one of its indicators is 1) tried option by option in
    the relaxation, ``PROBE_AT_MOST`` relaxations in all, on programs of at most
    ``PROBE_COLUMNS`` columns.

    An option whose relaxation has no solution is in no plan: its indicator is held at 0 for
    the rest of the solve (where a held fleet cannot take a single-venue run whole, the
    relaxation would otherwise put part of the run there). And since some option is taken in
    every plan, the least of the options' relaxations is a bound on every plan: on the
    research lab's committed solves where the run must go to the cloud, it is 1.85 M$ where
    the relaxation's is 0.86 M$ (benchmarks/README.md). The relaxation left in the variables
    is the last one solved, with nothing held. None: no option of some decision has a
    relaxation, so the program has no plan."""
    options = [var for indicators in groups.values() for var in indicators
               if (var.upBound is None or var.upBound > 0.5)
               and (var.lowBound is None or var.lowBound < 0.5)]
    if not options or len(options) > PROBE_AT_MOST or len(model.prob.vars) > PROBE_COLUMNS:
        return Probed(-math.inf, 0.0, 0)
    best = -math.inf
    seconds = 0.0
    ruled_out = 0
    for indicators in groups.values():
        least = math.inf
        for var in indicators:
            if var.upBound is not None and var.upBound < 0.5:
                continue
            low, up = var.lowBound, var.upBound
            var.lowBound = var.upBound = 1.0
            info = run(model.prob, solver, None, 0.0, relax=True)
            var.lowBound, var.upBound = low, up
            seconds += info.seconds
            if info.status == SolveStatus.INFEASIBLE:
                var.upBound = 0.0
                ruled_out += 1
            elif info.status == SolveStatus.OPTIMAL:
                least = min(least, model.prob.cost())
            else:
                least = -math.inf          # not known: this decision proves nothing
        if least == math.inf:
            return None
        best = max(best, least)
    # the relaxation with nothing held, for the steps after this one
    again = run(model.prob, solver, None, 0.0, relax=True)
    seconds += again.seconds
    if again.status != SolveStatus.OPTIMAL:
        return None
    return Probed(best, seconds, ruled_out)


def warm_start(model: Model, solver: SolverName,
               fleet_hint: FleetHint | None = None) -> Start | None:
    """A complete feasible assignment of ``model``'s variables, or None. Each whole-number
    step is bounded by nodes (``RESTRICTED_SHARE``, ``FLEET_SHARE`` of ``node_budget``), the
    relaxations not at all: the same steps on any machine, under the caller's
    ``solver.safety_net``.

    ``fleet_hint`` stands in for step 5's program when its NPV is within ``HINT_WITHIN`` of
    the relaxation's bound: the fleet and placements of a plan known to be close (the base
    decisions held, in an analysis that moves one lever a little) are held instead, with no
    bound proved. The start differs, never what is proven of the plan found."""
    groups = model.use.choices()
    picks = model.use.placements()
    reservations = model.reserved.reservations
    if not reservations and not picks:
        return None
    seconds = 0.0
    restricted_nodes = node_budget(model.prob, RESTRICTED_SHARE)

    # the relaxation is the bound and the map for everything after it
    relaxed_info = run(model.prob, solver, None, 0.0, relax=True)
    seconds += relaxed_info.seconds
    if relaxed_info.status != SolveStatus.OPTIMAL:
        return None
    lower_bound = model.relaxed_bound = model.prob.cost()
    covers = len(model.prob.vars) >= COVERS_FROM
    for _ in range(COVER_ROUNDS):
        # whole units the relaxation rounded away: cut them off, raising the bound
        if not add_shortfall_cuts(model) + (add_unit_covers(model) if covers else 0):
            break
        again = run(model.prob, solver, None, 0.0, relax=True)
        seconds += again.seconds
        if again.status != SolveStatus.OPTIMAL:
            return None
        lower_bound = model.relaxed_bound = model.prob.cost()
    probed = _probe_placements(model, solver, groups)
    if probed is None:
        return None
    seconds += probed.seconds
    if probed.bound > lower_bound:
        lower_bound = model.relaxed_bound = probed.bound
    saved: list[tuple[Var, float | None, float | None]] = []

    def bound(var: Var, lo: float, up: float | None) -> None:
        saved.append((var, var.lowBound, var.upBound))
        var.lowBound, var.upBound = lo, up

    def undo(to: int) -> None:
        while len(saved) > to:
            var, lo, up = saved.pop()
            var.lowBound, var.upBound = lo, up

    target = sure_target(lower_bound, model.plan.plan.mip_gap)
    # the restricted programs stop at their own gap, never looser than the plan's
    restricted = min(RESTRICTED_GAP, model.plan.plan.mip_gap)

    def within(found: Start) -> bool:
        """Whether a plan is within the requested gap of the bound, measured as ``optimize``
        measures it."""
        gap = relative_gap(found.objective, lower_bound)
        return gap is not None and gap <= model.plan.plan.mip_gap

    def rounded_now(only_within: bool = False) -> tuple[Start, float] | None:
        """The relaxation as it stands, rounded; its values are put back afterwards (the
        steps after it read the relaxation, not the rounded plan)."""
        relaxation = [(v, v.varValue) for v in model.prob.vars]
        found = _rounded(model, solver, restricted_nodes, target=target,
                         only_within=only_within)
        for v, value in relaxation:
            v.varValue = value
        return found

    try:
        if picks:
            # each single-venue workload and gang run where the relaxation put most of it;
            # when that leaves no plan (the fleet held cannot take all of a workload the relaxation
            # split), one workload at a time, most certain first, each at the first venue
            # in the relaxation's order that still leaves a plan
            options: dict[str, list[tuple[float, int, Var]]] = defaultdict(list)
            k = 0
            for workload, indicators in groups.items():
                for var in indicators:
                    options[workload].append((-(var.varValue or 0.0), k, var))
                    k += 1
            for choices in options.values():
                choices.sort(key=lambda c: (c[0], c[1]))

            def place(workload: str, chosen: Var) -> None:
                for _, _, var in options[workload]:
                    value = 1.0 if var is chosen else 0.0
                    bound(var, value, value)

            for workload, choices in options.items():
                place(workload, choices[0][2])
            again = run(model.prob, solver, None, 0.0, relax=True)
            seconds += again.seconds
            if not again.status.has_solution:
                for choices in options.values():
                    for _, _, var in choices:
                        bound(var, 0.0, 1.0)
                for workload in sorted(options, key=lambda w: options[w][0][:2]):
                    for _, _, var in options[workload]:
                        place(workload, var)
                        again = run(model.prob, solver, None, 0.0, relax=True)
                        seconds += again.seconds
                        if again.status.has_solution:
                            break
                    else:
                        return None
        # when the fleet can be settled first, a rounding that cannot be within the gap is
        # not searched
        rounded = rounded_now(only_within=_fractional(model.fleet.whole()))
        if rounded is not None:
            seconds += rounded[1]
            if within(rounded[0]):
                rounded[0].load()
                return replace(rounded[0], bound=lower_bound, seconds=seconds)
        held = len(saved)
        fleet = None
        if _fractional(model.fleet.whole()):
            # the placements free again: the program in which only the fleet and the
            # placements are whole is then a relaxation of the whole program, and its bound
            # a bound on every plan
            for var in picks:
                bound(var, 0.0, 1.0)
            hinted = None if fleet_hint is None else relative_gap(fleet_hint.npv, lower_bound)
            near = hinted is not None and hinted <= HINT_WITHIN
            fleet = (_hinted(model, fleet_hint.values) if near and fleet_hint is not None
                     else _fleet_first(model, solver, node_budget(model.prob, FLEET_SHARE)))
        if fleet is None:
            undo(held)
        else:
            values, spent, proved = fleet
            seconds += spent
            if proved is not None and proved > lower_bound:
                lower_bound = model.relaxed_bound = proved
                target = sure_target(lower_bound, model.plan.plan.mip_gap)
                if rounded is not None and within(rounded[0]):
                    rounded[0].load()
                    return replace(rounded[0], bound=lower_bound, seconds=seconds)
            for var, value in values:
                bound(var, value, value)
            again = run(model.prob, solver, None, 0.0, relax=True)
            seconds += again.seconds
            if again.status != SolveStatus.OPTIMAL:
                undo(held)
                again = run(model.prob, solver, None, 0.0, relax=True)
                seconds += again.seconds
                if again.status != SolveStatus.OPTIMAL:
                    return None
            else:
                around = rounded_now()
                if around is not None:
                    seconds += around[1]
                    if rounded is None or around[0].objective < rounded[0].objective:
                        rounded = around
                    if within(around[0]):
                        around[0].load()
                        return replace(around[0], bound=lower_bound, seconds=seconds)
        # whole reservations next to the relaxation's fractions; capacity blocks at least as
        # many as it booked, and more if need be: a gang runs on whole nodes all month, so
        # its blocks come in nodes × days, and the relaxation's count of days is rarely one
        # (enterprise-70b: 229.6 days where its plan books 240, 8 nodes × 30)
        blocks = {id(var) for key, (var, _) in reservations.items()
                  if key[2] == Purchase.CAPACITY_BLOCK}
        relaxed = {var: var.varValue or 0.0 for var, _ in reservations.values()}
        for var, value in relaxed.items():
            bound(var, float(math.floor(value + _EPS)),
                  var.upBound if id(var) in blocks else float(math.ceil(value - _EPS)))
        # storage is billed wherever the relaxation used a venue, and nowhere else in the
        # cloud; at a site, whole servers leave room the relaxation did not have, so
        # workloads stay free to use it
        closed: list[Var] = []
        chosen = {id(var) for var in picks}
        for (_, venue, _), use in model.use.uses.items():
            if id(use) in chosen:
                continue
            if (use.varValue or 0.0) > _EPS:
                bound(use, 1.0, 1.0)
            elif not model.venues[venue].is_site:
                bound(use, 0.0, 0.0)
                closed.append(use)
        # tiered prices: keep each total at least in the tier the relaxation reached. It may
        # climb higher: whole venues store and send more than fractions of them did, and a
        # total held below its tier's end made large restricted programs infeasible (a
        # cloud-only plan of 100 workloads over 60 months then searched the full program
        # for 200 s; benchmarks/README.md)
        tier_ids = {id(full) for _, _, fulls in model.tiers.groups for full in fulls}
        for seg, starts, fulls in model.tiers.groups:
            total = sum(s.varValue or 0.0 for s in seg)
            for k, full in enumerate(fulls):
                if total >= starts[k + 1] - _EPS:
                    bound(full, 1.0, 1.0)
                    closed.append(full)
        # stop as soon as a plan is within the requested gap of the relaxation's bound
        info = run(model.prob, solver, None, restricted, target=target, nodes=restricted_nodes)
        seconds += info.seconds
        if info.status == SolveStatus.INFEASIBLE and closed:
            # a fraction can hide a whole step: a dataset the relaxation moved 1% of moves
            # whole, and its egress leaves the tier the relaxation reached. Reopen and retry:
            # every closed variable on a small plan; on a large one the venues only, which
            # keeps the program small (reopening the tiers too doubles its time)
            reopen = closed if len(closed) <= REOPEN_AT_MOST else [
                var for var in closed if id(var) not in tier_ids]
            for var in reopen:
                var.lowBound, var.upBound = 0.0, 1.0
            opened = {id(var) for var in reopen}
            closed = [var for var in closed if id(var) not in opened]
            info = run(model.prob, solver, None, restricted, target=target,
                       nodes=restricted_nodes)
            seconds += info.seconds
        if not info.status.has_solution:
            if rounded is None:
                return None
            rounded[0].load()
            return replace(rounded[0], bound=lower_bound, seconds=seconds)
        start = start_of(model, lower_bound, seconds)
        if rounded is not None and rounded[0].objective < start.objective:
            rounded[0].load()
            start = replace(rounded[0], bound=lower_bound, seconds=seconds)
        if start.gap > model.plan.plan.mip_gap and 0 < len(closed) <= REOPEN_AT_MOST:
            # whole reservations can leave room in regions the relaxation did not use: let
            # workloads move there too, and totals change tier, starting from the plan found
            for var in closed:
                var.lowBound, var.upBound = 0.0, 1.0
            info = run(model.prob, solver, None, restricted, start=start.values,
                       target=target, nodes=restricted_nodes)
            seconds += info.seconds
            if info.status.has_solution and model.prob.cost() < start.objective:
                return start_of(model, lower_bound, seconds)
            start.load()
        return replace(start, seconds=seconds)
    finally:
        for var, lo, up in reversed(saved):
            var.lowBound, var.upBound = lo, up


def _fleet_first(model: Model, solver: SolverName, nodes: int
                 ) -> tuple[list[tuple[Var, float]], float, float | None] | None:
    """The owned fleet's whole numbers (servers ordered, servers kept) and the single-venue
    placements, from the program in which only they are whole and everything else is relaxed:
    the fleet is what links workloads across months (one server serves many of them, for
    years, under one capex budget), so it is settled first, and the rest rounded around it.
    None when the relaxation's fleet is whole already or that program finds no plan in time;
    else the values, the seconds spent and the bound the solver proved for that program
    (None when it proved none). Nothing else held, that program is a relaxation of the whole
    one, and its bound holds for every plan: where whole servers are what the relaxation
    gets wrong (the LLM platform: 3.4% of its 3.6% gap), it is much the closer bound."""
    fleet = model.fleet.whole()
    if not _fractional(fleet):
        return None
    chosen = [*fleet, *model.use.placements()]
    whole = {id(v) for v in chosen}
    relaxed = [v for v in model.prob.vars if v.integer and id(v) not in whole]
    for v in relaxed:
        v.integer = False
    try:
        info = run(model.prob, solver, None, FLEET_GAP, nodes=nodes,
                   root_sub_mips=FLEET_ROOT_SUB_MIPS)
    finally:
        for v in relaxed:
            v.integer = True
    if not info.status.has_solution:
        return None
    return [(v, float(round(v.varValue or 0.0))) for v in chosen], info.seconds, info.bound


def _hinted(model: Model, hint: dict[str, float]
            ) -> tuple[list[tuple[Var, float]], float, float | None]:
    """``_fleet_first``'s answer taken from a plan's values: its servers ordered and kept and
    its placements, in whole numbers; nothing spent, no bound."""
    chosen = [*model.fleet.whole(), *model.use.placements()]
    return [(v, float(round(hint.get(v.name, 0.0)))) for v in chosen], 0.0, None


def _fractional(variables: list[Var]) -> bool:
    """Whether the relaxation left any of ``variables`` at a fraction."""
    return any(abs((v.varValue or 0.0) - round(v.varValue or 0.0)) > _EPS for v in variables)


def _rounded(model: Model, solver: SolverName, nodes: int, target: float,
             only_within: bool = False) -> tuple[Start, float] | None:
    """A whole plan by rounding the relaxation (run after the single-venue placements): every
    indicator the relaxation used fully set to 1, those it did not use to 0, and those it used
    in part set to 1 too, or left to the solver when there are at most
    ``FREE_INDICATORS_AT_MOST`` of them; every whole count (reservations, server orders,
    servers kept) rounded to the nearest whole number, or, when that leaves no plan, up; the
    tiers of tiered prices left to the solver. Rounding is
    monotone, so servers kept never exceed those owned. Quick on the largest plans, where the
    restricted program below can take a minute; when whole servers break the capex budget or
    a site's power either way, there is no such plan and the restricted program is the start.
    Returns the plan and the seconds spent, with the variables' bounds as they were.

    ``only_within``: a rounding is solved only when its relaxation (a re-solve from the last
    basis) costs no more than ``target``; one that cannot reach it is not searched (the
    fleet-first step follows, and on 100 workloads over 36 months the search took half a
    minute to find a plan 1.8% from the bound)."""
    tiers = {id(full) for _, _, fulls in model.tiers.groups for full in fulls}
    relaxed = [(v, v.varValue or 0.0) for v in model.prob.vars
               if v.integer and id(v) not in tiers and v.lowBound != v.upBound]
    saved = [(v, v.lowBound, v.upBound) for v, _ in relaxed]
    free = sum(1 for v, x in relaxed if v.upBound is not None and v.upBound <= 1.0
               and _EPS < x < 1.0 - _EPS) <= FREE_INDICATORS_AT_MOST
    seconds = 0.0
    try:
        for rule in (lambda x: math.floor(x + 0.5), lambda x: math.ceil(x - _EPS)):
            for v, x in relaxed:
                if v.upBound is not None and v.upBound <= 1.0:
                    if free and _EPS < x < 1.0 - _EPS:
                        # used in part: the solver chooses between paying for the venue and
                        # moving that part elsewhere
                        v.lowBound, v.upBound = 0.0, 1.0
                        continue
                    value = 1.0 if x > _EPS else 0.0
                else:
                    value = float(rule(x))
                v.lowBound = v.upBound = value
            if only_within:
                reach = run(model.prob, solver, None, 0.0, relax=True)
                seconds += reach.seconds
                if reach.status != SolveStatus.OPTIMAL or model.prob.cost() > target:
                    continue
            info = run(model.prob, solver, None, min(RESTRICTED_GAP, model.plan.plan.mip_gap),
                       target=target, nodes=nodes)
            seconds += info.seconds
            if info.status.has_solution:
                return start_of(model, -math.inf, seconds), seconds
        return None
    finally:
        for v, lo, up in saved:
            v.lowBound, v.upBound = lo, up
