"""ResourceTable: keyed updates, cursor, k9s filter, sort, drawing, and 25k rows."""

from __future__ import annotations

import random

from textual.app import App, ComposeResult

from mlops_tui.backends.models import CacheChanges, Column, Row
from mlops_tui.tui.filtering import compile_filter
from mlops_tui.tui.row_index import RowIndex
from mlops_tui.tui.widgets import ResourceTable

COLUMNS = (
    Column("NAMESPACE"),
    Column("NAME"),
    Column("STATUS"),
    Column("RESTARTS", numeric=True),
    Column("AGE", numeric=True),
    Column("IP", wide_only=True),
)
RESTARTS, AGE = 3, 4


def pod(
    name: str,
    ns: str = "default",
    *,
    restarts: int = 0,
    age: float = 60.0,
    status: str = "",
    phase: str = "Running",
    labels: dict[str, str] | None = None,
) -> Row:
    return Row(
        uid=f"uid-{ns}-{name}",
        name=name,
        namespace=ns,
        cells=(ns, name, phase, str(restarts), f"{int(age)}s", "10.1.2.3"),
        labels=labels or {},
        sort_keys=("", "", "", float(restarts), age, ""),
        status=status,
    )


def reset(*rows: Row) -> CacheChanges:
    return CacheChanges(1, tuple(rows), (), True)


def change(*rows: Row, deletes: tuple[str, ...] = ()) -> CacheChanges:
    return CacheChanges(2, tuple(rows), deletes, False)


class TableApp(App):
    def __init__(self, columns=COLUMNS) -> None:
        super().__init__()
        self.columns = columns
        self.moved: list[Row | None] = []
        self.activated: list[Row] = []

    def compose(self) -> ComposeResult:
        yield ResourceTable(self.columns)

    def on_resource_table_cursor_moved(self, message: ResourceTable.CursorMoved) -> None:
        self.moved.append(message.row)

    def on_resource_table_row_activated(self, message: ResourceTable.RowActivated) -> None:
        self.activated.append(message.row)


def names(table: ResourceTable) -> list[str]:
    return [row.name for row in table.visible_rows()]


def lines(table: ResourceTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


async def test_apply_reset_upsert_delete() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(ResourceTable)
        table.apply(reset(pod("b"), pod("a"), pod("c", "kube-system")))
        await pilot.pause()
        assert table.row_count == table.visible_count == 3
        assert names(table) == ["a", "b", "c"]  # by namespace, then name
        assert table.cursor_row is not None and table.cursor_row.name == "a"

        table.apply(change(pod("aa", phase="Pending"), pod("b", phase="Failed")))
        await pilot.pause()
        assert names(table) == ["a", "aa", "b", "c"]
        assert table.get_row("uid-default-b").cells[2] == "Failed"

        table.apply(change(deletes=("uid-default-a", "uid-nope")))
        await pilot.pause()
        assert names(table) == ["aa", "b", "c"]
        assert table.row_count == 3

        table.apply(reset(pod("z")))
        await pilot.pause()
        assert names(table) == ["z"] and table.row_count == 1

        table.apply(reset())
        await pilot.pause()
        assert table.cursor_row is None and table.visible_count == 0
        assert app.moved[-1] is None


async def test_cursor_stays_on_its_uid_when_rows_are_inserted_above() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(ResourceTable)
        table.focus()
        table.apply(reset(*(pod(f"p{i:02}", "ns-b") for i in range(10))))
        await pilot.press("j", "j", "j")
        assert table.cursor_row.name == "p03" and table.cursor_index == 3
        moves = len(app.moved)

        table.apply(change(*(pod(f"q{i}", "ns-a") for i in range(5))))
        await pilot.pause()
        assert table.cursor_row.name == "p03"
        assert table.cursor_index == 8
        assert len(app.moved) == moves  # same row: no CursorMoved

        table.apply(reset(*table.visible_rows(), pod("a0", "ns-a")))  # a relist, same rows
        await pilot.pause()
        assert table.cursor_row.name == "p03" and table.cursor_index == 9


async def test_cursor_falls_to_the_nearest_row_when_its_row_goes() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(ResourceTable)
        table.apply(reset(*(pod(f"p{i}") for i in range(5))))
        table.move_cursor(2)
        await pilot.pause()
        table.apply(change(deletes=("uid-default-p2",)))
        await pilot.pause()
        assert table.cursor_index == 2 and table.cursor_row.name == "p3"
        assert app.moved[-1].name == "p3"
        table.move_cursor(3)
        table.apply(change(deletes=("uid-default-p4",)))
        await pilot.pause()
        assert table.cursor_index == 2 and table.cursor_row.name == "p3"


async def test_keys_move_the_cursor_and_enter_activates() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(ResourceTable)
        table.focus()
        table.apply(reset(*(pod(f"p{i:03}") for i in range(100))))
        await pilot.pause()
        page = table.scrollable_content_region.height - 1  # the header takes a line
        await pilot.press("down", "j")
        assert table.cursor_index == 2
        await pilot.press("up")
        assert table.cursor_index == 1
        await pilot.press("k", "k")
        assert table.cursor_index == 0
        await pilot.press("G")
        assert table.cursor_row.name == "p099"
        assert table.scroll_y == table.max_scroll_y  # the last row is in view
        await pilot.press("g")
        assert table.cursor_index == 0 and table.scroll_y == 0
        await pilot.press("pagedown")
        assert table.cursor_index == page
        await pilot.press("pageup")
        assert table.cursor_index == 0
        await pilot.press("end")
        assert table.cursor_index == 99
        await pilot.press("home", "enter")
        await pilot.pause()
        assert [row.name for row in app.activated] == ["p000"]
        assert app.moved[-1].name == "p000"


async def test_clicks_move_the_cursor_and_sort_by_header() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(ResourceTable)
        table.apply(reset(*(pod(f"p{i}", restarts=9 - i) for i in range(5))))
        await pilot.pause()
        await pilot.click(ResourceTable, offset=(2, 3))
        assert table.cursor_row.name == "p2"
        x = lines(table)[0].index("RESTARTS")
        await pilot.click(ResourceTable, offset=(x, 0))
        assert table.sort_column == RESTARTS and not table.sort_reverse
        assert names(table) == ["p4", "p3", "p2", "p1", "p0"]


async def test_filter_regex_inverse_labels_and_invalid_regex() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(ResourceTable)
        table.apply(
            reset(
                pod("nginx-1", "web", labels={"app": "nginx"}),
                pod("nginx-2", "web", labels={"app": "nginx"}, phase="Pending"),
                pod("api-0", "backend", labels={"app": "api"}),
                pod("odd[x]", "default"),
            )
        )
        table.move_cursor(3)  # web/nginx-2
        table.set_filter("NGINX")
        await pilot.pause()
        assert names(table) == ["nginx-1", "nginx-2"] and table.filter_text == "NGINX"
        assert table.cursor_row.name == "nginx-2"  # kept its row
        table.set_filter("^web.*pending")
        assert names(table) == ["nginx-2"]
        table.set_filter("!nginx")
        assert names(table) == ["api-0", "odd[x]"]
        table.set_filter("-l app=nginx")
        assert names(table) == ["nginx-1", "nginx-2"]
        table.set_filter("-l app in (api,other)")
        assert names(table) == ["api-0"]
        table.set_filter("-l app in (api")
        assert names(table) == [] and table.filter_error
        assert table.cursor_row is None
        table.set_filter("odd[")
        assert names(table) == ["odd[x]"] and "plain text" in table.filter_error
        table.set_filter("")
        assert table.visible_count == table.row_count == 4 and not table.filter_error


async def test_filter_stays_in_force_for_upserts() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(ResourceTable)
        table.apply(reset(pod("web-1"), pod("db-1")))
        table.set_filter("web")
        table.apply(change(pod("web-0"), pod("db-0")))
        await pilot.pause()
        assert names(table) == ["web-0", "web-1"]
        assert table.row_count == 4 and table.visible_count == 2
        # an update that stops matching leaves the view; one that starts matching joins it
        renamed = Row(uid="uid-default-web-1", name="web-1", namespace="default", cells=("x",))
        table.apply(change(renamed, pod("db-1", phase="web-ish")))
        assert names(table) == ["db-1", "web-0"]


async def test_sort_numeric_vs_text_and_toggle() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(ResourceTable)
        table.apply(
            reset(
                pod("a", restarts=10, age=5),
                pod("b", restarts=9, age=300),
                pod("c", restarts=100, age=40),
                pod("d", "aaa", restarts=9, age=7),
            )
        )
        assert table.sort_column is None
        table.sort_by(RESTARTS)
        await pilot.pause()
        # 9 < 10 < 100 as numbers (text would give 10 < 100 < 9); ties by namespace, name
        assert names(table) == ["d", "b", "a", "c"]
        assert table.sort_column == RESTARTS and table.sort_reverse is False
        table.sort_by(RESTARTS)  # same column: toggle
        assert names(table) == ["c", "a", "b", "d"] and table.sort_reverse
        table.sort_by(AGE)  # another column: ascending, by seconds not by text
        assert names(table) == ["a", "d", "c", "b"] and not table.sort_reverse
        table.sort_by(AGE, reverse=True)
        assert names(table) == ["b", "c", "d", "a"]
        table.sort_by(1)  # NAME is text
        assert names(table) == ["a", "b", "c", "d"]
        text_restarts = Column("RESTARTS")  # same cells, not numeric: sorted as text
        table.set_columns((*COLUMNS[:3], text_restarts, *COLUMNS[4:]))
        table.apply(reset(pod("a", restarts=10), pod("b", restarts=9), pod("c", restarts=100)))
        table.sort_by(RESTARTS)
        assert names(table) == ["a", "c", "b"]


async def test_numeric_column_without_sort_keys_reads_the_text() -> None:
    columns = (Column("NAME"), Column("COUNT", numeric=True))
    app = TableApp(columns)
    async with app.run_test(size=(100, 30)):
        table = app.query_one(ResourceTable)
        rows = [
            Row(uid=n, name=n, namespace="", cells=(n, c))
            for n, c in [("x", "12"), ("y", "<none>"), ("z", "3"), ("w", "nan")]
        ]
        table.apply(reset(*rows))
        table.sort_by(1)
        assert names(table) == ["z", "x", "w", "y"]  # numbers, then the rest by name


async def test_incremental_upserts_keep_sort_and_filter_like_a_full_rebuild() -> None:
    rng = random.Random(3)
    app = TableApp()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(ResourceTable)
        rows = {}
        for i in range(300):
            r = pod(f"p{i}", f"ns{i % 4}", restarts=rng.randrange(20), age=rng.randrange(50))
            rows[r.uid] = r
        table.apply(reset(*rows.values()))
        table.sort_by(RESTARTS, reverse=True)
        table.set_filter("ns[12]")
        for step in range(400):
            if rng.random() < 0.3 and rows:
                uid = rng.choice(list(rows))
                del rows[uid]
                table.apply(change(deletes=(uid,)))
            else:
                i = rng.randrange(400)
                r = pod(f"p{i}", f"ns{i % 4}", restarts=rng.randrange(20), age=rng.randrange(50))
                rows[r.uid] = r
                table.apply(change(r))
            if step == 200:
                table.sort_by(AGE)
        match = compile_filter("ns[12]")
        expected = sorted(
            (r for r in rows.values() if match(r)),
            key=lambda r: (r.sort_keys[AGE], r.namespace, r.name, r.uid),
        )
        assert table.visible_rows() == expected
        assert table.row_count == len(rows)
        await pilot.pause()


async def test_bulk_batches_rebuild_to_the_same_result() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 30)):
        table = app.query_one(ResourceTable)
        table.apply(reset(*(pod(f"p{i}", restarts=i % 7) for i in range(100))))
        table.sort_by(RESTARTS)
        table.move_cursor(10)
        uid = table.cursor_row.uid
        batch = tuple(pod(f"n{i}", restarts=i % 5) for i in range(1000))
        table.apply(change(*batch, deletes=("uid-default-p0",)))
        assert table.row_count == 1099
        assert table.cursor_row.uid == uid
        keys = [(r.sort_keys[RESTARTS], r.namespace, r.name) for r in table.visible_rows()]
        assert keys == sorted(keys)


async def test_header_columns_wide_and_sort_marks() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(ResourceTable)
        table.apply(reset(pod("web", "team-a")))
        await pilot.pause()
        header, first = lines(table)[:2]
        assert header.split() == ["NAMESPACE", "NAME", "STATUS", "RESTARTS", "AGE"]
        assert first.split() == ["team-a", "web", "Running", "0", "60s"]
        table.wide = True
        await pilot.pause()
        assert lines(table)[0].split()[-1] == "IP" and "10.1.2.3" in lines(table)[1]
        table.sort_by(AGE)
        assert "AGE↑" in lines(table)[0]
        table.sort_by(AGE)
        assert "AGE↓" in lines(table)[0]
        assert all(len(line) == table.size.width for line in lines(table))


async def test_long_cells_are_cut_with_an_ellipsis_and_widths_follow_content() -> None:
    columns = (Column("NAME", width=8), Column("NOTE"))
    app = TableApp(columns)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(ResourceTable)
        long = Row(uid="1", name="n", namespace="", cells=("abcdefghijkl", "x" * 200))
        table.apply(reset(long))
        await pilot.pause()
        line = lines(table)[1]
        assert line.startswith("abcdefg…  ")
        assert line[10:].startswith("x" * (ResourceTable.MAX_AUTO_WIDTH - 1) + "… ")
        assert table.virtual_size.width == 8 + 2 + ResourceTable.MAX_AUTO_WIDTH
        short = Row(uid="1", name="n", namespace="", cells=("a", "b"))
        table.apply(reset(short))
        assert table.virtual_size.width == 8 + 2 + len("NOTE") + 1


async def test_rows_are_coloured_by_status() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(ResourceTable)
        table.apply(
            reset(
                pod("a"), pod("b", status="error"), pod("c", status="warn"), pod("d", status="ok")
            )
        )
        await pilot.pause()
        error = table.get_component_rich_style("resource-table--error").color
        warn = table.get_component_rich_style("resource-table--warn").color
        cursor = table.get_component_rich_style("resource-table--cursor").bgcolor
        assert error != warn
        colours = [next(iter(table.render_line(y))).style for y in range(1, 5)]
        assert colours[0].bgcolor == cursor  # the cursor row
        assert colours[1].color == error
        assert colours[2].color == warn
        assert colours[3].color not in (error, warn)


async def test_set_columns_drops_rows() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(ResourceTable)
        table.apply(reset(pod("a"), pod("b")))
        table.sort_by(1)
        table.set_columns((Column("NAME"),))
        await pilot.pause()
        assert table.row_count == 0 and table.cursor_row is None
        assert table.sort_column is None and table.columns == (Column("NAME"),)


async def test_25k_rows_apply_and_filter() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(ResourceTable)
        rows = [
            pod(
                f"pod-{i:05}",
                f"team-{i % 25}",
                restarts=i % 11,
                labels={"app": f"a{i % 4}"},
                status="error" if i % 100 == 0 else "",
            )
            for i in range(25_000)
        ]
        table.apply(reset(*rows))
        await pilot.pause()
        assert table.row_count == table.visible_count == 25_000
        table.set_filter("team-7 ")
        await pilot.pause()
        assert table.visible_count == 1_000
        table.set_filter("!team-7 ")
        assert table.visible_count == 24_000
        table.set_filter("-l app=a1")
        assert table.visible_count == 6_250
        table.set_filter("pod-01[0-9]{3} ")
        assert table.visible_count == 1_000
        table.sort_by(RESTARTS)
        table.apply(
            change(
                pod("pod-01001", "team-1", restarts=5),
                pod("new", restarts=5),
                deletes=("uid-team-0-pod-01000",),
            )
        )
        assert table.visible_count == 999 and table.row_count == 25_000
        await pilot.pause()
        assert lines(table)[0].split()[0] == "NAMESPACE"


async def test_control_characters_in_cells_do_not_break_lines() -> None:
    app = TableApp((Column("NAME"), Column("MESSAGE")))
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(ResourceTable)
        table.apply(reset(Row(uid="1", name="a", namespace="", cells=("a", "x\ny\tz\x1b[31m"))))
        await pilot.pause()
        line = lines(table)[1]
        assert "\n" not in line and "\x1b" not in line and "x\ufffdy\ufffdz\ufffd[31m" in line


async def test_updates_repaint_only_the_lines_whose_row_changed() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(ResourceTable)
        table.apply(reset(*(pod(f"p{i:03}") for i in range(200))))
        await pilot.pause()
        painted: list[int] = []
        render_line = table.render_line

        def spy(y: int):
            painted.append(y)
            return render_line(y)

        table.render_line = spy
        table.apply(change(pod("p150", phase="Failed")))  # off screen
        await pilot.pause()
        assert painted == []
        table.apply(change(pod("p004", phase="Failed")))  # on screen, line 1 + 4
        await pilot.pause()
        assert painted == [5]
        shot = app.export_screenshot()
        assert "Failed" in shot
        table.refresh()
        await pilot.pause()
        assert app.export_screenshot() == shot
        painted.clear()
        table.apply(change(pod("p000a")))  # a new row above the others: all lines move
        await pilot.pause()
        assert len(painted) >= 28
        assert table.cursor_row.name == "p000"


async def test_rows_changing_above_the_screen_neither_move_nor_repaint_it() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(ResourceTable)
        table.focus()
        table.apply(reset(*(pod(f"p{i:03}", restarts=i) for i in range(300))))
        table.sort_by(RESTARTS)
        await pilot.pause()
        table.move_cursor(150)
        await pilot.pause()
        top, screen = table.scroll_y, lines(table)
        painted: list[int] = []
        render_line = table.render_line

        def spy(y: int):
            painted.append(y)
            return render_line(y)

        table.render_line = spy
        # p010 moves from above the screen to below it; p000 gets an update
        table.apply(change(pod("p010", restarts=500), pod("p000", restarts=0, phase="x")))
        await pilot.pause()
        assert painted == []
        assert table.scroll_y == top - 1 and lines(table) == screen
        quiet = app.export_screenshot()
        table.refresh()  # what a full repaint draws must be what the screen already shows
        await pilot.pause()
        assert app.export_screenshot() == quiet
        assert table.cursor_row.name == "p150" and table.cursor_index == 149
        table.apply(change(pod("a-new", restarts=-1)))  # a new row (count changes)
        await pilot.pause()
        assert table.scroll_y == top and lines(table) == screen
        await pilot.press("down")
        assert table.cursor_row.name == "p151"


def test_row_index_works_without_an_app() -> None:
    index = RowIndex()
    index.set_columns(COLUMNS)
    index.reset([pod("b", restarts=2), pod("a", restarts=3), pod("c", restarts=1)])
    index.set_sort(RESTARTS, reverse=False)
    assert [r.name for r in index.visible_rows()] == ["c", "b", "a"]
    index.set_sort(RESTARTS, reverse=True)
    assert index.row_at(0).name == "a" and index.position_of("uid-default-c") == 2
    index.set_filter("!^default b")
    index.update([pod("d", restarts=9)], ["uid-default-a"])
    assert [r.name for r in index.visible_rows()] == ["d", "c"]
    assert index.row_count == 3 and len(index) == 2
    assert index.position_of("uid-default-b") is None  # filtered out
    assert index.widths[1] == 1
