"""view_models/sales.py and the reads of models/sales.py, on SQLite and PostgreSQL: build_sales_view end to end (scores
that do not move when a deal is touched later), history, roster, pipeline, the CSV export rows, and the stored
sales_stage picklist with the warning on stage names it lacks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, insert, update

from metrics.windows import WindowKind
from models.sales import read_stage_picklist, sales_group_names
from models.schema import deal_stage_changes, deals, phone_calls, vtiger_groups, vtiger_users
from settings import KpiRules, SalesRules, Settings, StageRule, VtigerSettings
from sync.engine import write_state
from tests import sales_seed
from view_models.sales import (
    build_sales_view,
    build_sales_views,
    open_deal_rows,
    sales_rows,
    stage_picklist,
    stage_warning,
)

TZ = "America/Chicago"
DAY = date(2024, 6, 10)  # a Monday; Chicago is on CDT (UTC-5)
PICKLIST = ["Prospecting", "Demo Scheduled", "Demo Given", "Quote Sent", "Pilot", "Needs Analysis",
            "Closed Won", "Closed Lost", "Recycled"]  # fmt: skip


def add(engine: Engine, table: Any, *rows: dict[str, Any]) -> None:
    with engine.begin() as conn:
        for row in rows:  # one by one: an executemany would take its columns from the first row only
            conn.execute(insert(table).values(**row))


def deal(source_id: str, **values: Any) -> dict[str, Any]:
    return {"source_id": source_id, "deal_no": f"POT{source_id[2:]}", "name": f"Deal {source_id}", "raw": {},
            "stage": "Prospecting", "group_name": "Sales", **values}  # fmt: skip


def change(deal_id: str, stage: str, changed_at: str, **values: Any) -> dict[str, Any]:
    return {"deal_source_id": deal_id, "deal_no": f"POT{deal_id[2:]}", "stage": stage, "origin": "field",
            "changed_at": datetime.fromisoformat(changed_at), "group_name": "Sales", **values}  # fmt: skip


def call(source_id: str, started_at: str, assignee: str, **values: Any) -> dict[str, Any]:
    return {"source_id": source_id, "started_at": datetime.fromisoformat(started_at), "assignee_name": assignee,
            "group_name": "Sales", "status": "Held", "raw": {}, **values}  # fmt: skip


@pytest.fixture
def sales_settings(settings_for: Callable[..., Settings], database_url: str) -> Settings:
    return settings_for(database_url, timezone=TZ)


def derive(engine: Engine, settings: Settings) -> None:
    """What sync keeps as it stores stage changes, deals and calls, for rows a test wrote straight into the tables."""
    sales_seed.derive(engine, settings)


def scores_of(engine: Engine, settings: Settings, day: date = DAY, window: WindowKind = "day", group: str = "") -> dict:
    derive(engine, settings)
    view = build_sales_view(engine, settings, day, group, window, today=day)
    return dict(zip(view.leaderboard["person"], view.leaderboard["points"], strict=True))


def test_a_scored_stage_stays_scored_when_the_deal_is_modified_later(engine: Engine, sales_settings) -> None:
    add(engine, deals, deal("5x1", stage="Demo Scheduled", assignee_name="Ann", qualified_by_name="Quinn"))
    add(
        engine,
        deal_stage_changes,
        change("5x1", "Demo Scheduled", "2024-06-10 20:27", assignee_name="Ann", qualified_by_name="Quinn"),
    )
    add(engine, phone_calls, call("43x1", "2024-06-10 14:00", "Ann"), call("43x2", "2024-06-11 04:59", "Ann"))
    before = scores_of(engine, sales_settings)
    assert before == {"Quinn": 5.0, "Ann": 2.0}  # the 04:59 UTC call is 23:59 on the 10th in Chicago

    # Days later the deal moves on, is reassigned and is edited again.
    with engine.begin() as conn:
        conn.execute(
            update(deals)
            .where(deals.c.source_id == "5x1")
            .values(stage="Demo Given", assignee_name="Bob", qualified_by_name="", updated_at=datetime(2024, 6, 14))
        )
    add(
        engine,
        deal_stage_changes,
        change("5x1", "Demo Given", "2024-06-13 15:00", assignee_name="Bob", origin="observed"),
    )
    assert scores_of(engine, sales_settings) == before
    assert scores_of(engine, sales_settings, date(2024, 6, 13)) == {"Bob": 5.0}
    assert scores_of(engine, sales_settings, DAY, "week") == {"Quinn": 5.0, "Bob": 5.0, "Ann": 2.0}


def test_deleted_rows_do_not_count_and_earlier_history_blocks_a_repeat(engine: Engine, sales_settings) -> None:
    add(engine, deals, deal("5x1"), deal("5x2"), deal("5x3", deleted_at=datetime(2024, 6, 12)))
    add(
        engine,
        deal_stage_changes,
        change("5x1", "Demo Given", "2024-05-02 15:00", assignee_name="Ann"),  # a month earlier
        change("5x1", "Needs Analysis", "2024-05-20 15:00", assignee_name="Ann"),
        change("5x1", "Demo Given", "2024-06-10 15:00", assignee_name="Ann"),  # again: no points (once per deal)
        change("5x2", "Demo Given", "2024-06-10 16:00", assignee_name="Ann", deleted_at=datetime(2024, 6, 11)),
        change("5x3", "Demo Given", "2024-06-10 16:00", assignee_name="Ann"),  # its deal was deleted
        change("5x9", "Demo Given", "2024-06-10 17:00", assignee_name="Cy"),  # deal not (yet) mirrored: counts
    )
    add(engine, phone_calls, call("43x1", "2024-06-10 14:00", "Ann", deleted_at=datetime(2024, 6, 11)))
    derive(engine, sales_settings)
    view = build_sales_view(engine, sales_settings, DAY, today=DAY)
    assert list(view.stage_changes["deal_source_id"]) == ["5x1", "5x9"]
    assert list(view.stage_changes["points"]) == [0.0, 5.0]
    assert dict(zip(view.leaderboard["person"], view.leaderboard["points"], strict=True)) == {"Cy": 5.0, "Ann": 0.0}
    assert view.calls.empty


def test_roster_group_filter_and_group_names(engine: Engine, settings_for, database_url: str) -> None:
    add(engine, vtiger_groups, {"source_id": "20x1", "name": "Sales"}, {"source_id": "20x2", "name": "Support"})
    add(
        engine,
        vtiger_users,
        {"source_id": "19x1", "user_name": "nora", "full_name": "Nora North", "status": "Active",
         "primary_group_id": "20x1"},
        {"source_id": "19x2", "user_name": "old", "full_name": "Old Timer", "status": "Inactive",
         "primary_group_id": "20x1"},
        {"source_id": "19x3", "user_name": "sue", "first_name": "Sue", "last_name": "South", "status": "Active",
         "primary_group_id": "20x2"},
    )  # fmt: skip
    add(
        engine,
        phone_calls,
        call("43x1", "2024-06-10 14:00", "Ann", group_name="Sales"),
        call("43x2", "2024-06-10 14:00", "Sam", group_name="Support"),
    )
    settings = settings_for(database_url, timezone=TZ)
    assert sales_group_names(engine, settings.kpi.sales) == ["Sales", "Support"]
    assert scores_of(engine, settings) == {"Ann": 1.0, "Sam": 1.0}  # everyone: no roster to pad with
    assert scores_of(engine, settings, group="Sales") == {"Ann": 1.0, "Nora North": 0.0}
    assert scores_of(engine, settings, group="Support") == {"Sam": 1.0, "Sue South": 0.0}
    configured = replace(settings, kpi=KpiRules(sales=replace(settings.kpi.sales, groups=("Sales",))))
    assert sales_group_names(engine, configured.kpi.sales) == ["Sales"]
    assert scores_of(engine, configured) == {"Ann": 1.0, "Nora North": 0.0}


def test_credit_to_another_deal_field_resolves_the_user(engine: Engine, settings_for, database_url: str) -> None:
    add(engine, vtiger_users, {"source_id": "19x7", "user_name": "cleo", "full_name": "Cleo Closer"})
    add(engine, deals, deal("5x1", raw={"cf_potentials_closer": "19x7"}))
    add(engine, deal_stage_changes, change("5x1", "Pilot", "2024-06-10 15:00", assignee_name="Ann"))
    rules = SalesRules(stages=(StageRule("Pilot", 3, "cf_potentials_closer"),))
    settings = settings_for(database_url, timezone=TZ, kpi=KpiRules(sales=rules))
    assert scores_of(engine, settings) == {"Cleo Closer": 3.0}


def test_open_pipeline_and_its_rows_agree(engine: Engine, settings_for, database_url: str) -> None:
    add(
        engine,
        deals,
        deal("5x1", stage="Needs Analysis", amount=100.0, assignee_name="Ann"),
        deal("5x2", stage="Quote Sent", amount=250.5, assignee_name="Ann"),
        deal("5x3", stage="Closed Won", amount=9000.0, assignee_name="Ann"),
        deal("5x4", stage="Recycled", amount=9000.0, assignee_name="Bob"),
        deal("5x5", stage="Pilot", amount=None, assignee_name="Bob"),
        deal("5x6", stage="Pilot", amount=7.0, assignee_name="Bob", deleted_at=datetime(2024, 1, 1)),
    )
    vtiger = VtigerSettings("https://x.od1.vtiger.com", "u", "k", "https://x/index.php?module={module}&record=")
    settings = settings_for(database_url, timezone=TZ, vtiger=vtiger)
    derive(engine, settings)
    view = build_sales_view(engine, settings, DAY, today=DAY)
    assert view.pipeline.to_dict("records") == [
        {"owner": "Ann", "amount": 350.5, "deals": 2},
        {"owner": "Bob", "amount": 0.0, "deals": 1},
    ]
    rows = open_deal_rows(engine, settings)
    assert list(rows["deal_id"]) == ["5x2", "5x1", "5x5"]
    assert rows["amount"].fillna(0).sum() == view.pipeline["amount"].sum()
    assert rows.iloc[0]["link"] == "https://x/index.php?module=Potentials&record=2"


def test_a_stage_the_picklist_lacks_is_a_warning_not_a_start_up_error(
    engine: Engine, settings_for, database_url: str
) -> None:
    from app import create_app

    assert read_stage_picklist(engine) is None and stage_picklist(engine) == ()
    assert stage_warning(engine, settings_for(database_url)) is None  # nothing synced: nothing to compare with
    with engine.begin() as conn:  # as sync stores it (and moves the data version the page cache keys on)
        write_state(conn, "vtiger", "Potentials", "1", {"picklists": {"sales_stage": PICKLIST}})
    assert read_stage_picklist(engine) == PICKLIST
    assert stage_picklist(engine) == tuple(PICKLIST)  # picklist order, as VTiger lists it
    assert stage_warning(engine, settings_for(database_url)) is None  # the defaults are all known

    rules = replace(SalesRules(), stages=(StageRule("Demo Sheduled", 5),))
    settings = settings_for(database_url, kpi=KpiRules(sales=rules), kpi_file="kpi.toml")
    create_app(settings).server.extensions["kpi"].engine.dispose()  # starts: a misspelt stage is no start-up error
    warning = stage_warning(engine, settings)
    assert warning is not None
    assert warning.missing == (("sales.stages[0].name", "Demo Sheduled"),)
    assert warning.picklist == tuple(PICKLIST)
    assert '[[sales.stages]]\nname = "Demo Scheduled"\npoints = 0\ncredit = "assignee"\n' in warning.snippet


def test_three_windows_from_one_read_equal_three_single_reads(engine: Engine, sales_settings) -> None:
    day = date(2024, 5, 1)  # a Wednesday: its week starts in April, its month ends in May
    add(
        engine,
        phone_calls,
        call("43x1", "2024-04-29 15:00", "Ann"),  # the week, not the month
        call("43x2", "2024-05-01 15:00", "Ann"),  # all three
        call("43x3", "2024-05-20 15:00", "Bob"),  # the month only
        call("43x4", "2024-06-01 04:59", "Bob"),  # 23:59 on 31 May in Chicago: the month
    )
    add(engine, deal_stage_changes, change("5x1", "Demo Given", "2024-04-30 15:00", assignee_name="Bob"))
    derive(engine, sales_settings)
    views = build_sales_views(engine, sales_settings, day, today=day)
    totals = {
        kind: dict(zip(v.leaderboard["person"], v.leaderboard["points"], strict=True)) for kind, v in views.items()
    }
    assert totals == {
        "day": {"Ann": 1.0},
        "week": {"Bob": 5.0, "Ann": 2.0},
        "month": {"Bob": 2.0, "Ann": 1.0},
    }
    for kind, view in views.items():
        single = build_sales_view(engine, sales_settings, day, "", kind, today=day)
        assert single.leaderboard.equals(view.leaderboard)


def test_export_rows_equal_the_figures(engine: Engine, settings_for, database_url: str) -> None:
    vtiger = VtigerSettings("https://x.od1.vtiger.com", "u", "k", "https://x/index.php?module={module}&record=")
    settings = settings_for(database_url, timezone=TZ, vtiger=vtiger)
    add(engine, deals, deal("5x1", name="Big deal"), deal("5x2"))
    add(
        engine,
        deal_stage_changes,
        change("5x1", "Demo Scheduled", "2024-06-10 15:00", assignee_name="Ann", qualified_by_name="Quinn"),
        change("5x2", "Demo Scheduled", "2024-06-10 16:00", assignee_name="Ann", qualified_by_name="Quinn"),
        change("5x2", "Recycled", "2024-06-10 17:00", assignee_name="Ann"),
    )
    add(engine, phone_calls, call("43x1", "2024-06-10 14:00", "Ann"), call("43x2", "2024-06-10 15:00", "Bob"))
    derive(engine, settings)
    view = build_sales_view(engine, settings, DAY, today=DAY)

    points = sales_rows(engine, settings, DAY, "day", "points")
    assert points.to_dict("records")[0] == {
        "person": "Quinn", "total_points": 10.0, "goal": 100.0, "goal_so_far": 100.0, "phone_calls": 0,
        "Demo Scheduled": 2, "Demo Given": 0, "Quote Sent": 0, "Pilot": 0, "Needs Analysis": 0, "Closed Won": 0,
        "Closed Lost": 0,
    }  # fmt: skip
    assert points["total_points"].sum() == view.leaderboard["points"].sum() == 12

    calls = sales_rows(engine, settings, DAY, "day", "calls")
    assert len(calls) == view.calls_per_person()["calls"].sum() == 2
    assert list(calls["started_at"]) == ["2024-06-10 09:00", "2024-06-10 10:00"]  # Chicago time
    assert calls.iloc[0]["link"] == "https://x/index.php?module=PhoneCalls&record=1"

    changes = sales_rows(engine, settings, DAY, "day", "stage_changes")
    assert list(changes["stage"]) == ["Demo Scheduled", "Demo Scheduled", "Recycled"]
    per_stage = view.deals_per_stage()
    assert dict(zip(per_stage["stage"], per_stage["deals"], strict=True)) == {"Demo Scheduled": 2}  # Recycled left out
    assert changes.iloc[0][["deal_name", "credited_to", "points"]].tolist() == ["Big deal", "Quinn", 5.0]

    with pytest.raises(ValueError, match="kpi must be one of points, calls, stage_changes, pipeline"):
        sales_rows(engine, settings, DAY, "day", "cases")


def test_export_endpoint_serves_the_rows_as_csv(settings_for, sqlite_url: str) -> None:
    from app import create_app

    app = create_app(settings_for(sqlite_url, timezone=TZ, auth_disabled=True))
    engine = app.server.extensions["kpi"].engine
    add(engine, vtiger_groups, {"source_id": "20x1", "name": "Sales"})
    add(engine, phone_calls, call("43x1", "2024-06-10 14:00", "Ann"), call("43x2", "2024-06-10 15:00", "Bob"),
        call("43x3", "2024-06-10 15:00", "Sam", group_name="Support"))  # fmt: skip
    client = app.server.test_client()
    response = client.get("/export/sales.csv?date=2024-06-10&window=week&kpi=calls&group=Sales")
    assert response.status_code == 200 and response.headers["X-Row-Count"] == "2"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0].startswith(f"started_at ({TZ}),started_at_utc,person,status")
    assert [line.split(",")[2] for line in lines[1:]] == ["Ann", "Bob"]
    points = client.get("/export/sales.csv?date=2024-06-10&kpi=points").get_data(as_text=True).splitlines()
    assert [line.split(",")[:2] for line in points[1:]] == [["Ann", "1.0"], ["Bob", "1.0"], ["Sam", "1.0"]]
    bad = client.get("/export/sales.csv?date=2024-06-10&kpi=deals")
    assert bad.status_code == 400 and "use one of points, calls, stage_changes, pipeline" in bad.get_data(as_text=True)
    engine.dispose()


# --- the page's path (build_sales_page: calls counted in SQL) against the export's (every row in pandas) -------


def _page_fixture(engine: Engine) -> None:
    add(engine, vtiger_groups, {"source_id": "20x1", "name": "Sales"}, {"source_id": "20x2", "name": "Support"})
    add(
        engine,
        vtiger_users,
        {"source_id": "19x1", "user_name": "nora", "full_name": "Nora North", "primary_group_id": "20x1",
         "status": "Active"},
    )  # fmt: skip
    add(engine, deals, deal("5x1"), deal("5x2", group_name="Support"), deal("5x3"))
    add(
        engine,
        deal_stage_changes,
        change("5x1", "Demo Scheduled", "2024-05-20 15:00", qualified_by_name="Quinn"),  # before the month
        change("5x1", "Demo Given", "2024-06-03 15:00", assignee_name="Ann"),
        change("5x1", "Demo Scheduled", "2024-06-10 15:00", qualified_by_name="Quinn"),  # a repeat: 0 points
        change("5x1", "Demo Scheduled", "2024-06-10 16:00", qualified_by_name="Quinn", origin="observed"),
        change("5x2", "Demo Scheduled", "2024-06-11 15:00", qualified_by_name=" Quinn ", group_name="Support"),
        change("5x3", "Demo Given", "2024-06-10 17:00", assignee_name=""),  # no one to credit
        change("5x3", "Recycled", "2024-06-12 17:00", assignee_name="Ann"),
    )
    calls = [
        call("43x1", "2024-06-10 14:00", "Ann"),
        call("43x2", "2024-06-10 14:00", " Ann "),
        call("43x3", "2024-06-10 15:00", "Bob", status="Planned"),
        call("43x4", "2024-06-11 15:00", "", group_name="Support"),
        call("43x5", "2024-06-03 15:00", "Sam", group_name="Support"),
        call("43x6", "2024-06-10 14:00", "Cy"),  # ties with 43x1 and 43x2 at the table's cut
        call("43x7", "2024-05-31 23:00", "Ann"),  # the week of the 2nd of June starts in May (Chicago)
    ]
    add(engine, phone_calls, *calls)


@pytest.mark.parametrize("statuses", [(), ("Held",)])
@pytest.mark.parametrize("group", ["", "Sales", "Support"])
def test_the_page_path_shows_what_every_row_gives(
    engine: Engine, settings_for, database_url: str, group: str, statuses: tuple[str, ...]
) -> None:
    from view_models.sales import build_sales_page, calls_rows

    _page_fixture(engine)
    rules = replace(SalesRules(), call_statuses=statuses, stages=(
        StageRule("Demo Scheduled", 5, "cf_potentials_qualifiedby"), StageRule("Demo Given", 3, "assignee"),
    ))  # fmt: skip
    settings = settings_for(database_url, timezone=TZ, kpi=KpiRules(sales=rules))
    for day in (date(2024, 6, 2), DAY, date(2024, 6, 11)):
        for selected in ("day", "week", "month"):
            derive(engine, settings)
            full = build_sales_views(engine, settings, day, group, today=DAY)
            page = build_sales_page(engine, settings, day, group, selected, 2, today=DAY)
            for kind, view in full.items():
                fast = page[kind]
                assert fast.leaderboard.equals(view.leaderboard), (day, kind)
                assert fast.calls_per_person().equals(view.calls_per_person()), (day, kind)
                assert fast.call_count == len(view.calls)
                assert fast.demos_per_qualifier().equals(view.demos_per_qualifier())
                assert fast.deals_per_stage().equals(view.deals_per_stage())
                assert fast.pipeline.equals(view.pipeline)
                assert fast.goal == view.goal
                assert fast.totals() == view.totals()
                assert fast.stage_changes.empty  # the page's table reads its own rows (change_table)
            columns = [name for name in calls_rows(full[selected]).columns if name != "link"]
            shown, every = calls_rows(page[selected], 2)[columns], calls_rows(full[selected], 2)[columns]
            assert _values(shown) == _values(every), (day, selected)


def _values(frame: Any) -> list[dict[str, Any]]:
    """The rows as the page sends them (dtypes of empty frames aside)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")
