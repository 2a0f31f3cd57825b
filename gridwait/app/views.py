"""What the use cases return: typed views with units in their field names (kWh, g, s,
W) and UTC times. The CLI renders them; the API serialises them unchanged."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class View(BaseModel):
    # from_attributes: views are built from ORM rows too; extra keys of a row are ignored
    model_config = ConfigDict(frozen=True, from_attributes=True)


class EventView(View):
    at: datetime
    from_state: str | None
    to_state: str
    reason: str | None


class EstimateView(View):
    tokens_real: int
    tokens_padded: int
    padding_ratio: float | None
    steps: int
    flops: float
    seconds: float
    seconds_low: float
    seconds_high: float
    energy_kwh: float
    energy_low_kwh: float
    energy_high_kwh: float
    gpu_kwh: float
    cpu_kwh: float
    ram_kwh: float
    pue: float
    power_w: float
    hardware: str
    precision: str
    method: str
    level: str
    note: str | None = None


class StoredEstimate(View):
    """The estimate stored on a job at submission."""

    tokens_real: int | None
    tokens_padded: int | None
    seconds: float | None
    energy_kwh: float | None
    energy_low_kwh: float | None
    energy_high_kwh: float | None
    power_w: float | None
    method: str | None


class PlanSummary(View):
    """A job's current plan: window(s), forecast and run-now emissions."""

    planned_at: datetime | None
    start: datetime
    end: datetime | None
    segments: list[tuple[datetime, datetime]]
    forecast_g: float | None
    run_now_g: float | None
    source: str | None
    late: bool
    target: str | None = None
    """The launch target chosen, its zone, and why (several targets)."""
    zone: str | None = None
    where: str | None = None


class RunView(View):
    id: int
    attempt: int
    segment: int
    state: str
    claimed_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    handle: str | None
    """The launcher's handle: a PID locally, a Slurm job id on a cluster."""
    host: str | None
    gpu_ids: str | None
    log_path: str | None
    exit_code: int | None
    error: str | None
    duration_s: float | None
    energy_kwh: float | None
    """Facility energy (IT x PUE)."""
    it_energy_kwh: float | None
    gpu_kwh: float | None
    cpu_kwh: float | None
    ram_kwh: float | None
    pue: float | None
    gpu_method: str | None
    cpu_method: str | None
    ram_method: str | None
    emissions_g: float | None
    provisional: bool
    forecast_g: float | None
    counterfactual_g: float | None
    saving_g: float | None
    intensity_source: str | None
    tokens_real: int | None
    tokens_padded: int | None
    steps: int | None
    total_steps: int | None
    train_loss: float | None
    train_accuracy: float | None
    eval_examples: int | None
    eval_loss: float | None
    eval_accuracy: float | None
    """On the job's [eval] set, once training finished."""
    hardware: str | None
    precision: str | None
    target: str | None = None
    """The launch target it ran on and its grid zone (accounted on that zone's intensity);
    None: the single implicit target, in [grid] zone."""
    zone: str | None = None


class JobView(View):
    """Everything about one job."""

    id: int
    name: str
    owner: str
    project: str
    state: str
    reason: str | None
    model: str
    task: str
    dataset: str
    epochs: int
    batch_size: int
    max_length: int
    learning_rate: float
    padding: str
    gpus: int
    interruptible: bool
    max_retries: int
    attempts: int
    submitted_at: datetime
    earliest_start: datetime
    deadline: datetime
    updated_at: datetime
    estimate: StoredEstimate | None
    plan: PlanSummary | None
    events: list[EventView]
    runs: list[RunView]


class QueueRow(View):
    id: int
    name: str
    owner: str
    project: str
    state: str
    gpus: int
    interruptible: bool
    submitted_at: datetime
    deadline: datetime
    planned_start: datetime | None
    planned_end: datetime | None
    est_energy_kwh: float | None
    est_seconds: float | None
    plan_forecast_g: float | None
    plan_run_now_g: float | None
    late: bool
    reason: str | None


class Submitted(View):
    job: QueueRow
    estimate: EstimateView


class PlanRow(View):
    id: int
    name: str
    owner: str
    project: str
    status: str
    """planned, late or held"""
    start: datetime | None
    end: datetime | None
    segments: list[tuple[datetime, datetime]]
    forecast_g: float | None
    run_now_g: float | None
    saving_g: float | None
    fallback_share: float | None
    source: str | None
    reason: str | None
    target: str | None = None
    """The launch target chosen (None: held)."""
    zone: str | None = None
    """That target's grid zone: the forecast grams are this zone's."""
    where: str | None = None
    """Why that target (several targets only): e.g. "ERCO 312 g vs CISO 188 g forecast:
    CISO saves 40 %"."""


class PlanView(View):
    now: datetime
    notes: list[str]
    jobs: list[PlanRow]


class BudgetView(View):
    scope: str
    name: str
    monthly_g: float
    counts: str
    """operational, or total (operational + embodied)."""
    month: str
    used_g: float
    """Actual emissions of runs that ended this month."""
    committed_g: float
    """Forecast emissions of jobs planned or running this month."""
    left_g: float


class HistoryRow(View):
    """One run, with how each number was had."""

    run_id: int
    job_id: int
    name: str
    owner: str
    project: str
    state: str
    attempt: int
    segment: int
    started_at: datetime | None
    ended_at: datetime | None
    duration_s: float | None
    energy_kwh: float | None
    it_energy_kwh: float | None
    pue: float | None
    gpu_kwh: float | None
    cpu_kwh: float | None
    ram_kwh: float | None
    gpu_method: str | None
    cpu_method: str | None
    ram_method: str | None
    measured_share: float
    """Share of the IT energy that was measured rather than estimated."""
    intensity_source: str | None
    """The signal the emissions are reported on, and whether actual or stand-in."""
    emissions_g: float | None
    """Operational gCO2eq: facility energy x the reported signal's intensity."""
    forecast_g: float | None
    counterfactual_g: float | None
    saving_g: float | None
    provisional: bool
    embodied_g: float | None
    """Manufacturing gCO2e of the devices held, amortised over their life."""
    embodied_method: str | None
    embodied_source: str | None
    total_g: float | None
    """Operational + embodied; None while either is unknown."""
    water_l: float | None
    water_method: str | None
    planning_g: float | None
    """gCO2eq on the signal planned on, where that is not the reported one."""
    planning_source: str | None
    tokens_real: int | None
    tokens_padded: int | None
    steps: int | None
    train_loss: float | None
    train_accuracy: float | None
    eval_examples: int | None
    eval_loss: float | None
    eval_accuracy: float | None
    """On the job's [eval] set, once training finished."""
    hardware: str | None
    estimated_energy_kwh: float | None


class ReportRow(View):
    """Totals of one user, project or month; only the grouping key's field is set."""

    user: str | None = None
    project: str | None = None
    month: str | None = None
    runs: int
    energy_kwh: float
    emissions_g: float
    """Operational gCO2eq on the reported signal (the sum of the runs' emissions_g)."""
    embodied_g: float
    """Amortised manufacturing gCO2e of the devices the runs held."""
    total_g: float
    water_l: float
    reported_on: str
    """The provider emissions are reported on (grid.report_provider, else grid.provider)."""
    planned_on: str
    """The provider jobs are planned on (grid.provider)."""
    planning_g: float | None
    """gCO2eq of the runs planned on another signal, on that signal (not in any total)."""
    measured_g_share: float
    """Shares of total_g: operational grams of measured energy, of estimated energy, and
    amortised embodied grams (they sum to 1 when total_g > 0)."""
    estimated_g_share: float
    amortised_g_share: float
    counterfactual_g: float
    saving_g: float
    saving_pct: float | None
    measured_share: float
    provisional_runs: int
    budget_monthly_g: float | None
    budget_used_g: float | None
    budget_used_pct: float | None
    budget_counts: str | None = None
    """What the budget counts: operational, or total (operational + embodied)."""

    def group(self) -> str:
        return self.user or self.project or self.month or ""

    def as_json(self) -> dict[str, object]:
        """The grouping key under its own name (user, project or month), then the totals."""
        return self.model_dump(mode="json", exclude_unset=True)


class TokenView(View):
    """An API token as anyone may see it: never the secret."""

    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None


class UserView(View):
    name: str
    role: str
    created_at: datetime
    tokens: list[TokenView]
    notify: str | None = None
    """Their own notification URL, masked to its scheme (it holds credentials)."""


class IssuedToken(View):
    """A new token: `token` is shown this once and stored only as its hash."""

    id: int
    user: str
    name: str
    token: str
    created_at: datetime


class MeView(View):
    name: str
    role: str


class ForecastPoint(View):
    start: datetime
    value: float | None
    """gCO2eq/kWh (the view's `unit`) of the raw forecast; None where it has a gap."""
    corrected: float | None = None
    """The corrected forecast's median, where a correction was made ([grid]
    forecast_correction); None otherwise."""
    lower: float | None = None
    """The corrected forecast's band: its lower edge (the view's `band` names its share)."""
    upper: float | None = None


class Greenest(View):
    start: datetime
    end: datetime
    mean_g_per_kwh: float
    gap_share: float
    """Share of the window in the forecast's gaps, filled with the forecast's mean."""


class ForecastView(View):
    provider: str
    zone: str
    signal: str
    unit: str = "gCO2eq/kWh"
    issued_at: datetime | None
    resolution_s: float
    fallback: str | None
    note: str | None
    points: list[ForecastPoint]
    greenest: dict[str, Greenest | None]
    """The greenest start of a job of 1, 2, 4 and 8 hours ("1h"...), None if none fits;
    on the forecast the planner uses (the corrected one at the risk quantile, if any)."""
    correction: str | None = None
    """How the forecast was corrected, or why it was left raw; None where no correction
    was asked for."""
    band: float | None = None
    """The central share of each period's error distribution [lower, upper] covers."""
    risk_quantile: float | None = None
    """The quantile of the corrected distribution the planner plans on."""


class ActualView(View):
    """What the grid's intensity really was over the past hours."""

    provider: str
    zone: str
    signal: str
    unit: str = "gCO2eq/kWh"
    resolution_s: float
    fallback: str | None
    points: list[ForecastPoint]


class SampleView(View):
    """One energy sample of a run: cumulative joules since the run started."""

    run_id: int
    at: datetime
    elapsed_s: float
    gpu_j: float | None
    cpu_j: float | None
    ram_j: float | None


class LabMetrics(View):
    """The lab's aggregates, for monitoring: counts and sums, never a job's details."""

    jobs_by_state: dict[str, int]
    intensity_g_per_kwh: float | None
    """The newest stored forecast for now in the lab's zone (None before the first poll)."""
    intensity_provider: str | None
    zone: str
    planned_g: float
    """Forecast emissions of the waiting and running jobs as planned."""
    run_now_g: float
    """What the same jobs would emit if each started at once."""
    plans_on_fallback: int
    finished_runs: int
    finished_energy_kwh: float
    finished_emissions_g: float
    finished_saving_g: float
    runs_on_fallback: int
    budget_used_pct: dict[str, float]
    """`scope/name` -> this month's actual use as a share of its limit, in %."""


class DeliveryView(View):
    """How one notification target took a message; `target` is its URL masked."""

    target: str
    ok: bool
    reason: str | None = None
