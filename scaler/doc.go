// Package scaler is HMS-SVC's autoscaler: rules that turn metrics into
// replica counts, and a Controller that applies them.
//
// A Rule keeps one service between MinReplicas and MaxReplicas. Each of its
// triggers reads one metric through a MetricSource and recommends a count;
// the largest recommendation wins. Two trigger types exist:
//
//   - threshold, the seed's semantics: while the metric is above the
//     threshold, recommend MaxReplicas (the scale-up policies pace the
//     climb); once it is below threshold×(1−tolerance), recommend
//     MinReplicas, which the scale-down stabilization window delays until
//     the metric has stayed low for the whole window.
//   - target, the Kubernetes HPA's: the metric's average per ready replica
//     should equal the target, so desired = ceil(current × value/target) —
//     for a sum metric such as http_rps, ceil(total/target).
//
// The recommendation then goes through HPA autoscaling/v2 behavior:
// tolerance (default 0.1), stabilization windows (scale-down 300 s,
// scale-up 0 s by default), rate policies (Pods or Percent per period,
// selectPolicy Max/Min/Disabled), an optional cooldown, and finally the
// guards — MinMax first, then any the host adds (the budget package caps
// replicas this way). A decision records its reason — a stable CamelCase
// code (Reason; Reason.Message says it in words) — and the numbers behind
// it; the controller keeps the last decision, the last readings and a
// bounded history per rule (Status).
//
// As HPA does on its first sync (recordInitialRecommendation), the count a
// rule finds when it is first evaluated is recorded as a recommendation of
// that moment: a rule just added, or run by a restarted host or a new
// leader (whose controller starts with no memory of it), scales down only
// once the scale-down window has passed, never in its first tick. When
// replicas that are not ready yet make a target trigger's count point the
// other way than its metric (or look steady while the metric is off
// target), the count holds with ReasonNotReady.
//
// Deliberate differences from HPA: a current count of 0 is not
// "autoscaling disabled" (with MinReplicas 0 it is scale-to-zero, and a
// trigger above its activation wakes the service); a rule without a
// behavior gets DefaultBehavior, whose rate policies (scale up by 4 pods
// or 100 % per 15 s, whichever is more; down by 100 % per 15 s) apply at
// every size, where an HPA without a behavior field uses its older rule
// (up to max(2 × current, 4) per sync, scale-down held by the window
// only).
//
// Faults: when a metric cannot be read the count holds — the controller
// never scales down on missing data — and, if the rule has a Fallback, moves
// to the fallback count after FailureThreshold failed ticks in a row. Every
// backend call has its own deadline (Options.CallTimeout) and at most
// Options.Concurrency rules are evaluated at once, so a slow backend for one
// service does not hold up the others.
//
// Batch backends: a Scaler that is also a BatchScaler, or a MetricSource
// that is also a BatchMetricSource (an out-of-process plugin, where every
// call is a round trip), is called in batches: per tick, and per 1,000
// rules, one call reads every service's replicas, one per source reads
// every metric, and one applies every change, each call with its own
// deadline. The decisions, their reasons (a service whose read or change
// failed in the batch gets the same reason as when called alone), the
// guards, the histories and the audit events are those of the calls per
// rule; a batch call that fails as a whole fails each of its rules for
// that tick, and is not retried.
//
// MinReplicas 0 allows scale to zero: with no trigger above its activation
// threshold the service goes to zero; one trigger above it wakes it.
// Paused rules are left alone. Preview is the dry run: what a rule would do
// now and over a supplied metric trace, without acting.
//
// Schedules: a rule may carry up to MaxSchedules schedules, as Nomad
// Autoscaler's and KEDA's cron scalers allow. A Schedule is a cron
// expression read in an IANA time zone (the calendar of internal/cronspec)
// and a duration: each fire opens a window of that much elapsed time,
// during which the schedule's MinReplicas raises the rule's floor and its
// MaxReplicas lowers its ceiling ("at least 10 replicas 08:00–18:00
// America/New_York on weekdays", "at most 2 on weekends"). Among the
// schedules open at once the highest floor and the lowest ceiling count;
// when an open floor is above an open ceiling the floor wins, as the safer
// for availability, and the count is held at it. A schedule's bounds lie
// within the rule's MinReplicas..MaxReplicas (Validate refuses others).
//
// How schedules combine with the triggers: the triggers' recommendation is
// clamped to the bounds of the moment before stabilization, so the
// windows remember the bounded counts (when a floor's window closes, the
// count comes down as any scale-down does, once the scale-down window has
// passed); after the rate policies and the cooldown the count is brought
// within the bounds at once, as the MinMax guard does with the rule's own
// bounds, HPA with minReplicas and maxReplicas, and KEDA and Nomad with
// their schedules. That holds for the fallback count and for a hold on
// missing metrics too: a schedule is a calendar, not a reading. A decision
// whose count a schedule's bound set has the reason ScheduledMinimum or
// ScheduledMaximum and names the schedule (Decision.Schedule). The guards
// come after, MinMax first and then the host's, the budget's among them:
// a guard still has the last word.
//
// Calendar rules: evaluation runs at the tick's time on Options.Clock,
// never the wall clock; Preview evaluates "now" at the clock's time and
// each trace point at its own. A window opens at every fire in its zone
// and stays open for its duration of elapsed time, so one that spans a
// clock change closes an hour later (spring forward) or earlier (fall
// back) on the wall clock than on other days. A fire whose wall time falls
// in a spring-forward gap opens its window at the gap's end plus its
// offset into the gap (02:30 → 03:30), and a wall time that a fall-back
// day repeats opens it once, at its first occurrence. "0 0 29 2 *" opens
// on leap days only.
//
// Predictive triggers scale ahead of a load that repeats: the controller
// keeps, per predictive trigger, the mean of the metric's readings in each
// minute for the last two seasons (daily or weekly) in a ring allocated
// once; a seasonal model (SeasonalNaive, or additive HoltWinters from
// package forecast) forecasts the minutes from now to now+Lead, and the
// trigger recommends ceil(highest forecast / target) — with no tolerance
// band, since a forecast is not a noisy reading. Like every trigger it
// enters the rule's max, so the reactive triggers still catch what no
// history foresaw, and the stabilization windows, rate policies,
// schedules and guards pace it as they pace the others. A decision that
// the forecast raised has the reason PredictedLoad; every decision of a
// rule with a forecast carries it (Decision.Forecast), and a trigger with
// ForecastOnly records it there without acting. Lead should cover the
// replicas' start-up and the metric's age: a rate over a 60 s window,
// scraped every 15 s, shows the load of 30–45 s ago, and the history
// records it so. The history lives in the controller's memory (a new
// leader keeps it across Reset; a restarted host or a rule whose service
// changes starts without it) unless the trigger's source is a
// HistorySource, which the controller asks once for the last two seasons.
// Until a whole season is known the trigger forecasts with a warm-up trend
// (a least-squares line through the last TrendMinutes minutes,
// extrapolated to now+Lead), which follows a climb that has begun but
// foresees nothing new. Once its ring and model are made, a predictive
// rule's steady tick allocates nothing, as any other rule's.
//
// Tenancy: a rule belongs to the tenant named by its "agency" label
// (mgmt.LabelAgency, Rule.Tenant); a rule without one belongs to no tenant,
// and hosts that authorize (scalerhttp.Options.Authorize) let only
// principals acting for every tenant touch it. The Controller itself does
// not authorize. Who owns a service is the cluster's to say: a Scaler reports
// it from the service's own labels (ReplicaStatus.Owner), and
// Controller.Owner reads it.
//
// Rules live in a RuleStore (MemoryRules by default; backends/sqlite and
// backends/postgres keep them durably), which gives each its ID (AR-n,
// unique across the replicas sharing the store) and a Version that every
// update raises: an update carrying an older Version is a conflict, so two
// operators editing one rule cannot silently overwrite each other. The
// Controller keeps only runtime state per rule (its engine, readings, last
// decision and history); each Tick first syncs with the store (Sync, when
// its Revision moved), so rules created, changed or deleted through any
// replica are evaluated from the next tick, and — with a store given in
// Options.Rules — saves each rule's status there, which CurrentStatus
// serves on every replica and a restarted host starts from: at once when
// its decision changed or the rule was updated, and every
// Options.StatusEvery (30 s) otherwise, so a steady tick over many rules
// writes little. Reset forgets
// the engines' memory, as a replica that becomes the leader must (the
// predictive triggers' history of the metric, a record of the service
// rather than of the rule's decisions, is kept).
//
// The Controller's methods are safe for concurrent use. Ticks never overlap;
// a steady tick allocates nothing per rule. Time comes from Options.Clock
// (github.com/benbjohnson/clock) so that tests drive it with a mock clock.
package scaler
