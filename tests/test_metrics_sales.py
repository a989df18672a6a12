"""metrics/sales.py: hand-computed scores on small frames (windows in America/New_York unless said)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from metrics.sales import (
    CALL_COLUMNS,
    CHANGE_COLUMNS,
    HISTORY_COLUMNS,
    NO_QUALIFIER,
    PHONE_CALLS,
    PIPELINE_COLUMNS,
    ROSTER_COLUMNS,
    business_days,
    calls_per_person,
    deals_per_stage,
    demos_per_qualifier,
    goal_for,
    open_pipeline_per_owner,
    points_per_person,
    score_calls,
    score_key,
    score_stage_changes,
)
from metrics.windows import window_for
from settings import DEFAULT_STAGES, SalesRules, StageRule, compare_stages_with_picklist, load_kpi_rules
from view_models.sales import sales_view

TZ = "America/New_York"
RULES = SalesRules(stages=DEFAULT_STAGES)
DAY = date(2024, 3, 14)  # a Thursday; New York is on EDT (UTC-4) since 10 March


def calls_frame(*rows: dict) -> pd.DataFrame:
    defaults = {
        "source_id": "", "started_at": None, "status": "Held", "direction": "outbound", "duration_seconds": 60,
        "assignee_name": "", "group_name": "Sales", "customer_number": "", "recording_url": "",
    }  # fmt: skip
    filled = [{**defaults, "source_id": f"43x{n}", **row} for n, row in enumerate(rows, 1)]
    return pd.DataFrame(filled, columns=CALL_COLUMNS) if filled else pd.DataFrame(columns=CALL_COLUMNS)


def changes_frame(*rows: dict) -> pd.DataFrame:
    defaults = {
        "deal_source_id": "5x1", "deal_no": "POT1", "deal_name": "Deal", "stage": "", "previous_stage": "",
        "changed_at": None, "origin": "field", "assignee_name": "", "group_name": "Sales", "qualified_by_name": "",
    }  # fmt: skip
    filled = [{**defaults, **row} for row in rows]
    return pd.DataFrame(filled, columns=CHANGE_COLUMNS) if filled else pd.DataFrame(columns=CHANGE_COLUMNS)


def history_of(changes: pd.DataFrame, *extra: dict) -> pd.DataFrame:
    earlier = pd.DataFrame(list(extra), columns=HISTORY_COLUMNS)
    return pd.concat([changes[HISTORY_COLUMNS], earlier], ignore_index=True)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


def scores(view_board: pd.DataFrame) -> dict[str, float]:
    return dict(zip(view_board["person"], view_board["points"], strict=True))


# --- calls ------------------------------------------------------------------------------------------------------


def test_calls_count_by_start_time_in_the_local_day_edges_included_and_excluded() -> None:
    window = window_for(DAY, "day", TZ)  # [2024-03-14 04:00, 2024-03-15 04:00) UTC
    calls = calls_frame(
        {"started_at": utc("2024-03-14 03:59:59"), "assignee_name": "Ann"},  # 23:59:59 on the 13th locally
        {"started_at": utc("2024-03-14 04:00:00"), "assignee_name": "Ann"},  # local midnight: in
        {"started_at": utc("2024-03-15 03:59:59"), "assignee_name": "Ann"},  # 23:59:59 locally: in
        {"started_at": utc("2024-03-15 04:00:00"), "assignee_name": "Ann"},  # the next local day
        {"started_at": None, "assignee_name": "Ann"},  # no start time: cannot be placed in a window
    )
    scored = score_calls(calls, RULES, window)
    assert list(scored["source_id"]) == ["43x2", "43x3"]
    assert list(scored["started_local"].dt.strftime("%H:%M:%S")) == ["00:00:00", "23:59:59"]
    assert scored["points"].sum() == 2


def test_only_configured_call_statuses_score_but_every_call_is_listed() -> None:
    rules = replace(RULES, call_statuses=("Held",), call_points=2)
    window = window_for(DAY, "day", TZ)
    calls = calls_frame(
        {"started_at": utc("2024-03-14 15:00"), "assignee_name": "Ann", "status": "Held"},
        {"started_at": utc("2024-03-14 16:00"), "assignee_name": "Ann", "status": "Not Held"},
        {"started_at": utc("2024-03-14 17:00"), "assignee_name": "", "status": "Held"},  # nobody to credit
    )
    scored = score_calls(calls, rules, window)
    assert list(scored["counted"]) == [True, False, False]
    assert list(scored["points"]) == [2.0, 0.0, 0.0]
    per_person = calls_per_person(scored)
    assert per_person.to_dict("records") == [  # most calls first
        {"person": "Ann", "calls": 2, "counted": 1},
        {"person": "Unassigned", "calls": 1, "counted": 0},
    ]


# --- stage changes ---------------------------------------------------------------------------------------------


def test_stage_changes_on_window_edges_and_credit_to_qualifier_or_assignee() -> None:
    window = window_for(DAY, "day", TZ)
    changes = changes_frame(
        # Demo Scheduled credits the qualifier, who is not the assignee.
        {"deal_source_id": "5x1", "stage": "Demo Scheduled", "changed_at": utc("2024-03-14 04:00:00"),
         "assignee_name": "Ann", "qualified_by_name": "Quinn"},
        # Demo Given credits the assignee.
        {"deal_source_id": "5x2", "stage": "Demo Given", "changed_at": utc("2024-03-15 03:59:00"),
         "assignee_name": "Ann", "qualified_by_name": "Quinn"},
        # One second before the window.
        {"deal_source_id": "5x3", "stage": "Demo Given", "changed_at": utc("2024-03-14 03:59:59"),
         "assignee_name": "Ann"},
        # Exactly at the window's end (exclusive).
        {"deal_source_id": "5x4", "stage": "Demo Given", "changed_at": utc("2024-03-15 04:00:00"),
         "assignee_name": "Ann"},
        # A 0-point stage: counted in the breakdown, no points.
        {"deal_source_id": "5x5", "stage": "Quote Sent", "changed_at": utc("2024-03-14 12:00"),
         "assignee_name": "Bob"},
    )  # fmt: skip
    scored = score_stage_changes(changes, history_of(changes), RULES, window)
    assert list(scored["deal_source_id"]) == ["5x1", "5x5", "5x2"]
    assert list(scored["person"]) == ["Quinn", "Bob", "Ann"]
    assert list(scored["points"]) == [5.0, 0.0, 5.0]
    board = points_per_person(score_calls(calls_frame(), RULES, window), scored, RULES)
    assert scores(board) == {"Ann": 5.0, "Quinn": 5.0, "Bob": 0.0}
    assert list(board["person"]) == ["Ann", "Quinn", "Bob"]  # points, then name
    bob = board[board["person"] == "Bob"].iloc[0]
    assert (bob["Quote Sent"], bob["points"]) == (1, 0)


def test_demo_scheduled_without_a_qualifier_scores_nobody() -> None:
    window = window_for(DAY, "day", TZ)
    changes = changes_frame(
        {"stage": "Demo Scheduled", "changed_at": utc("2024-03-14 15:00"), "assignee_name": "Ann"},
    )
    scored = score_stage_changes(changes, history_of(changes), RULES, window)
    assert list(scored["points"]) == [0.0]
    assert list(scored["note"]) == ["no one to credit"]
    assert demos_per_qualifier(scored, RULES).to_dict("records") == [{"qualifier": NO_QUALIFIER, "demos": 1}]


def test_a_stage_scores_in_the_window_it_happened_whatever_the_deal_did_later() -> None:
    # The deal was scheduled on the 14th, given on the 20th and modified on the 25th: the 14th keeps its 5.
    changes = changes_frame(
        {"stage": "Demo Scheduled", "changed_at": utc("2024-03-14 15:00"), "assignee_name": "Ann",
         "qualified_by_name": "Quinn"},
        {"stage": "Demo Given", "changed_at": utc("2024-03-20 15:00"), "assignee_name": "Ann",
         "qualified_by_name": "Quinn", "previous_stage": "Demo Scheduled"},
    )  # fmt: skip
    history = history_of(changes)
    day_14 = score_stage_changes(changes, history, RULES, window_for(DAY, "day", TZ))
    day_20 = score_stage_changes(changes, history, RULES, window_for(date(2024, 3, 20), "day", TZ))
    month = score_stage_changes(changes, history, RULES, window_for(DAY, "month", TZ))
    assert (list(day_14["person"]), list(day_14["points"])) == (["Quinn"], [5.0])
    assert (list(day_20["person"]), list(day_20["points"])) == (["Ann"], [5.0])
    assert month["points"].sum() == 10


def test_once_per_deal_scores_the_first_passage_only_even_across_windows() -> None:
    # Scheduled on the 1st, back to Needs Analysis, scheduled again on the 14th.
    changes = changes_frame(
        {"stage": "Demo Scheduled", "changed_at": utc("2024-03-14 15:00"), "qualified_by_name": "Quinn"},
    )
    history = history_of(
        changes,
        {"deal_source_id": "5x1", "stage": "Demo Scheduled", "changed_at": utc("2024-03-01 15:00")},
        {"deal_source_id": "5x1", "stage": "Needs Analysis", "changed_at": utc("2024-03-05 15:00")},
    )
    window = window_for(DAY, "day", TZ)
    scored = score_stage_changes(changes, history, RULES, window)
    assert list(scored["points"]) == [0.0]
    assert scored.iloc[0]["note"] == "scores once per deal; first entered 2024-03-01 10:00"
    every_time = replace(RULES, stages=(replace(DEFAULT_STAGES[0], once_per_deal=False), *DEFAULT_STAGES[1:]))
    assert list(score_stage_changes(changes, history, every_time, window)["points"]) == [5.0]


def test_two_records_of_one_passage_field_and_observed_count_once() -> None:
    # The custom field says 11:27 local; sync observed the same change at its next run, 11:35.
    changes = changes_frame(
        {"stage": "Demo Given", "changed_at": utc("2024-03-14 15:27"), "origin": "field", "assignee_name": "Ann"},
        {"stage": "Demo Given", "changed_at": utc("2024-03-14 15:35"), "origin": "observed", "assignee_name": "Ann"},
    )
    rules = replace(RULES, stages=tuple(replace(rule, once_per_deal=False) for rule in DEFAULT_STAGES))
    scored = score_stage_changes(changes, history_of(changes), rules, window_for(DAY, "day", TZ))
    assert list(scored["origin"]) == ["field"]
    assert scored["points"].sum() == 5


def test_a_pm_time_from_a_custom_field_lands_in_its_local_day() -> None:
    # The old install's workflow wrote "03-14-2024 03:27 PM" (US Central) into the field the default rules read.
    # Sync (sync/vtiger_mapping.py) parses it with %I and %p in the stage time zone: 20:27 UTC (CDT). The old
    # dashboard read it as 03:27 UTC, which is the evening of the 13th in New York.
    from sync.vtiger_mapping import field_stage_changes

    record = {"cf_potentials_demogivenchangedat": "03-14-2024 03:27 PM"}
    deal = {"source_id": "5x1", "deal_no": "POT1", "assignee_name": "Ann", "group_name": "Sales",
            "qualified_by_name": ""}  # fmt: skip
    rows, problems = field_stage_changes(record, deal, RULES, ZoneInfo("America/Chicago"))
    assert problems == [] and [row["changed_at"] for row in rows] == [datetime(2024, 3, 14, 20, 27)]
    changes = changes_frame(*[{**row, "deal_name": "Deal"} for row in rows])
    day_14 = score_stage_changes(changes, history_of(changes), RULES, window_for(DAY, "day", TZ))
    day_13 = score_stage_changes(changes, history_of(changes), RULES, window_for(date(2024, 3, 13), "day", TZ))
    assert list(day_14["changed_local"].dt.strftime("%H:%M")) == ["16:27"]  # New York is an hour ahead
    assert day_14["points"].sum() == 5 and day_13.empty


def test_a_stage_credited_to_another_deal_field_reads_that_column() -> None:
    rules = SalesRules(stages=(StageRule("Pilot", 3, "cf_potentials_closer"),))
    changes = changes_frame({"stage": "Pilot", "changed_at": utc("2024-03-14 15:00"), "assignee_name": "Ann"})
    changes["cf_potentials_closer"] = ["Cleo"]
    scored = score_stage_changes(changes, history_of(changes), rules, window_for(DAY, "day", TZ))
    assert (list(scored["person"]), list(scored["points"])) == (["Cleo"], [3.0])


# --- people, groups, goal ---------------------------------------------------------------------------------------


def test_people_with_zero_points_are_listed_and_groups_filter_rows() -> None:
    window = window_for(DAY, "day", TZ)
    rules = replace(RULES, call_statuses=("Held",))
    calls = calls_frame(
        {"started_at": utc("2024-03-14 15:00"), "assignee_name": "Ann", "group_name": "Sales"},
        {"started_at": utc("2024-03-14 15:00"), "assignee_name": "Zed", "status": "Busy", "group_name": "Sales"},
        {"started_at": utc("2024-03-14 15:00"), "assignee_name": "Sam", "group_name": "Support"},
    )
    changes = changes_frame()
    roster = pd.DataFrame(
        [{"person": "Nora", "group_name": "Sales"}, {"person": "Sue", "group_name": "Support"}], columns=ROSTER_COLUMNS
    )
    pipeline = pd.DataFrame(columns=PIPELINE_COLUMNS)
    view = sales_view(
        window=window, rules=rules, today=DAY, calls=calls, changes=changes, history=history_of(changes),
        roster=roster, pipeline=pipeline, groups=("Sales",),
    )  # fmt: skip
    assert scores(view.leaderboard) == {"Ann": 1.0, "Nora": 0.0, "Zed": 0.0}
    assert list(view.leaderboard["person"]) == ["Ann", "Nora", "Zed"]
    everyone = sales_view(
        window=window, rules=rules, today=DAY, calls=calls, changes=changes, history=history_of(changes),
        roster=roster, pipeline=pipeline,
    )  # fmt: skip
    assert scores(everyone.leaderboard) == {"Ann": 1.0, "Sam": 1.0, "Zed": 0.0}


def test_business_days_drop_weekends_and_holidays_of_every_year_the_window_touches() -> None:
    # The week of 4 July 2024: Monday to Friday minus Independence Day.
    assert business_days(date(2024, 7, 1), date(2024, 7, 7), "US") == [
        date(2024, 7, 1), date(2024, 7, 2), date(2024, 7, 3), date(2024, 7, 5),
    ]  # fmt: skip
    # A week across New Year: 1 January 2025 is a holiday even though the week starts in 2024 (old defect 12).
    assert business_days(date(2024, 12, 30), date(2025, 1, 5), "US") == [
        date(2024, 12, 30), date(2024, 12, 31), date(2025, 1, 2), date(2025, 1, 3),
    ]  # fmt: skip
    assert len(business_days(date(2024, 7, 1), date(2024, 7, 7), "")) == 5  # no country: weekdays


def test_goals_for_day_week_and_month() -> None:
    day_goal = goal_for(window_for(date(2024, 7, 3), "day", TZ), RULES, date(2024, 7, 3))
    assert (day_goal.total, day_goal.so_far) == (100, 100)
    week = goal_for(window_for(date(2024, 7, 3), "week", TZ), RULES, today=date(2024, 7, 5))
    assert (week.business_days, week.business_days_so_far, week.total, week.so_far) == (4, 4, 400, 400)
    midweek = goal_for(window_for(date(2024, 7, 3), "week", TZ), RULES, today=date(2024, 7, 3))
    assert (midweek.business_days_so_far, midweek.so_far) == (3, 300)
    # July 2024: 23 weekdays minus the 4th.
    month = goal_for(window_for(date(2024, 7, 3), "month", TZ), replace(RULES, daily_goal=50), date(2024, 8, 1))
    assert (month.business_days, month.total, month.so_far) == (22, 1100, 1100)


# --- charts and the key -----------------------------------------------------------------------------------------


def test_open_pipeline_excludes_closed_and_excluded_stages_with_exact_case() -> None:
    pipeline = pd.DataFrame(
        [
            {"assignee_name": "Ann", "group_name": "Sales", "stage": "Needs Analysis", "amount": 100.0, "deals": 1},
            {"assignee_name": "Ann", "group_name": "Sales", "stage": "Closed Won", "amount": 9000.0, "deals": 3},
            {"assignee_name": "Bob", "group_name": "Sales", "stage": "Closed Lost", "amount": 9000.0, "deals": 1},
            {"assignee_name": "Bob", "group_name": "Sales", "stage": "Recycled", "amount": 9000.0, "deals": 1},
            {"assignee_name": "Bob", "group_name": "Sales", "stage": "Quote Sent", "amount": 250.0, "deals": 2},
            {"assignee_name": "Cy", "group_name": "Support", "stage": "Pilot", "amount": None, "deals": 1},
        ],
        columns=PIPELINE_COLUMNS,
    )
    per_owner = open_pipeline_per_owner(pipeline, RULES)
    assert per_owner.to_dict("records") == [
        {"owner": "Bob", "amount": 250.0, "deals": 2},
        {"owner": "Ann", "amount": 100.0, "deals": 1},
        {"owner": "Cy", "amount": 0.0, "deals": 1},
    ]
    assert list(open_pipeline_per_owner(pipeline, RULES, ["Support"])["owner"]) == ["Cy"]


def test_chart_frames_are_sorted_with_each_label_beside_its_value() -> None:
    window = window_for(DAY, "day", TZ)
    changes = changes_frame(
        *[{"deal_source_id": f"5x{n}", "stage": "Demo Scheduled", "changed_at": utc("2024-03-14 15:00"),
           "qualified_by_name": name} for n, name in enumerate(["Zoe", "Al", "Zoe", "Zoe", "Al", "Mo"])],
        {"deal_source_id": "5x9", "stage": "Recycled", "changed_at": utc("2024-03-14 16:00")},
        {"deal_source_id": "5x8", "stage": "Demo Given", "changed_at": utc("2024-03-14 16:00")},
    )  # fmt: skip
    scored = score_stage_changes(changes, history_of(changes), RULES, window)
    assert demos_per_qualifier(scored, RULES).to_dict("records") == [
        {"qualifier": "Zoe", "demos": 3}, {"qualifier": "Al", "demos": 2}, {"qualifier": "Mo", "demos": 1},
    ]  # fmt: skip
    assert deals_per_stage(scored, RULES).to_dict("records") == [
        {"stage": "Demo Scheduled", "deals": 6}, {"stage": "Demo Given", "deals": 1},
    ]  # fmt: skip


def test_score_key_is_generated_from_the_rules() -> None:
    rules = SalesRules(call_points=2, call_statuses=("Held",), stages=(StageRule("Pilot", 7, once_per_deal=False),))
    assert [(row.what, row.points, row.credited_to, row.condition) for row in score_key(rules)] == [
        ("Phone call", 2.0, "the call's assignee", "status Held"),
        ("Pilot", 7.0, "the deal's assignee", "every time the deal enters it"),
    ]
    default_key = score_key(RULES)
    assert [(row.what, row.points) for row in default_key[:3]] == [
        ("Phone call", 1.0), ("Demo Scheduled", 5.0), ("Demo Given", 5.0),
    ]  # fmt: skip
    assert default_key[1].credited_to == "the deal's qualified-by person"


# --- rules from a kpi.toml ----------------------------------------------------------------------------------------


def test_rules_changed_in_a_kpi_toml_change_the_scores(tmp_path: Path) -> None:
    path = tmp_path / "kpi.toml"
    path.write_text(
        "[sales]\ncall_points = 2\ncall_statuses = ['Held']\ngroups = ['Sales']\n"
        "[[sales.stages]]\nname = 'Demo Given'\npoints = 10\ncredit = 'assignee'\n"
        "[[sales.stages]]\nname = 'Quote Sent'\npoints = 3\ncredit = 'cf_potentials_qualifiedby'\n"
    )
    rules = load_kpi_rules(path).sales
    window = window_for(DAY, "day", TZ)
    calls = calls_frame(
        {"started_at": utc("2024-03-14 15:00"), "assignee_name": "Ann", "status": "Held"},
        {"started_at": utc("2024-03-14 15:10"), "assignee_name": "Ann", "status": "Busy"},
    )
    changes = changes_frame(
        {"deal_source_id": "5x1", "stage": "Demo Given", "changed_at": utc("2024-03-14 15:00"), "assignee_name": "Ann"},
        {"deal_source_id": "5x2", "stage": "Quote Sent", "changed_at": utc("2024-03-14 15:00"), "assignee_name": "Ann",
         "qualified_by_name": "Quinn"},
        # Not a stage in these rules any more: listed, no points.
        {"deal_source_id": "5x3", "stage": "Demo Scheduled", "changed_at": utc("2024-03-14 15:00"),
         "qualified_by_name": "Quinn"},
    )  # fmt: skip
    scored = score_stage_changes(changes, history_of(changes), rules, window)
    board = points_per_person(score_calls(calls, rules, window), scored, rules)
    assert scores(board) == {"Ann": 2 + 10, "Quinn": 3}
    assert list(board.columns) == ["person", "points", PHONE_CALLS, "Demo Given", "Quote Sent"]
    assert scored.set_index("deal_source_id").loc["5x3", "note"] == "not a scored stage"


def test_stage_names_the_picklist_lacks_are_listed_with_their_keys_and_the_lines_to_write(tmp_path: Path) -> None:
    picklist = ["Prospecting", "Demo Scheduled", "Demo Given", "Quote Sent", "Pilot", "Needs Analysis",
                "Closed Won", "Closed Lost", "Recycled"]  # fmt: skip
    assert compare_stages_with_picklist(RULES, picklist) is None
    wrong_case = replace(RULES, closed_stages=("Closed Won", "closed lost"))
    mismatch = compare_stages_with_picklist(wrong_case, picklist)  # exact, case included: a warning, not an error
    assert mismatch is not None
    assert mismatch.missing == (("sales.closed_stages", "closed lost"),)
    assert mismatch.keys_naming("closed lost") == ["sales.closed_stages"]
    assert mismatch.picklist == tuple(picklist)
    # The lines keep what the rules say of a stage VTiger has, and fix the list that named the missing one.
    assert 'closed_stages = ["Closed Won"]  # VTiger has no "closed lost"\n' in mismatch.snippet
    assert (
        '[[sales.stages]]\nname = "Demo Scheduled"\npoints = 5\ncredit = "cf_potentials_qualifiedby"\n'
        'changed_at_field = "cf_potentials_demoscheduledchangedat"\n'
    ) in mismatch.snippet
    path = tmp_path / "kpi.toml"
    path.write_text(mismatch.snippet)
    fixed = load_kpi_rules(path).sales
    assert compare_stages_with_picklist(fixed, picklist) is None
    assert [rule.name for rule in fixed.stages] == picklist  # one block per stage, in picklist order
    assert fixed.stage("Demo Given") == RULES.stage("Demo Given")
    assert fixed.stage("Prospecting") == StageRule("Prospecting", 0, "assignee")


def test_empty_inputs_give_empty_frames() -> None:
    window = window_for(DAY, "week", TZ)
    changes = changes_frame()
    view = sales_view(
        window=window, rules=RULES, today=DAY, calls=calls_frame(), changes=changes, history=history_of(changes),
        roster=pd.DataFrame(columns=ROSTER_COLUMNS), pipeline=pd.DataFrame(columns=PIPELINE_COLUMNS),
    )  # fmt: skip
    assert view.leaderboard.empty and view.calls.empty and view.stage_changes.empty and view.is_empty
    assert view.calls_per_person().empty and view.demos_per_qualifier().empty and view.deals_per_stage().empty
    assert view.goal.total == 500  # 11 to 15 March 2024: five business days
