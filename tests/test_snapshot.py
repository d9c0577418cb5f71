"""Reading an ORM object the way the listener does never queries, refreshes or detaches it:
the cause of issue 12's scheduler crash, shown on a real SQLAlchemy session."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, ForeignKey, String, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from callbacks.snapshot import loaded

DAY = datetime(2026, 1, 1, tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


class Run(Base):
    __tablename__ = "run"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(String(50))
    start_date: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    execution_date: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TaskInstance(Base):
    __tablename__ = "ti"
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[str] = mapped_column(String(50))
    run_pk: Mapped[int] = mapped_column(ForeignKey("run.id"))
    dag_run: Mapped[Run] = relationship()

    @property
    def log_url(self) -> str:
        """As Airflow 2.10's: ids, configuration, and the run's logical date (through the
        relationship: a query when it is not loaded)."""
        date = self.execution_date.strftime("%Y-%m-%d")  # type: ignore[attr-defined]
        return f"http://airflow/dags/grid?task_id={self.task_id}&base_date={date}"


def test_reading_never_queries_through_the_session_and_never_detaches() -> None:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with Session(engine) as session:
        run = Run(run_id="manual__1", start_date=DAY, execution_date=DAY)
        session.add(TaskInstance(task_id="load", dag_run=run))
        session.commit()  # expires everything, as Airflow's commits do
        ti = session.query(TaskInstance).one()
        # a plain attribute Airflow sets on its task instances, not a column of this model
        ti.task = "the operator"  # type: ignore[attr-defined]
        statements.clear()

        snapshot = loaded(ti)

        assert statements == []  # no lazy load of dag_run, no refresh
        assert snapshot.task_id == "load" and snapshot.task == "the operator"
        assert not hasattr(snapshot, "dag_run")  # not loaded: absent, never fetched
        assert ti in session  # still bound: Airflow's next read works
        session.expire(ti)
        assert vars(loaded(ti)) == {"task": "the operator"}  # expired columns: not read
        assert statements == []


def test_a_loaded_relationship_is_copied_and_other_objects_pass_through() -> None:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        run = Run(run_id="manual__2", start_date=DAY, execution_date=DAY)
        ti = TaskInstance(task_id="load", dag_run=run)
        session.add(ti)
        session.commit()
        snapshot = loaded(ti)
        assert snapshot.dag_run.run_id == "manual__2"
    plain = object()
    assert loaded(plain) is plain
    assert loaded(3) == 3


def test_the_log_url_is_airflow_s_own_computed_on_the_copy() -> None:
    """Listener events from the scheduler and the API server carry the task's log URL: the
    property runs on the copy (its run's date borrowed from the loaded run), never querying."""
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with Session(engine, expire_on_commit=False) as session:
        ti = TaskInstance(
            task_id="load", dag_run=Run(run_id="r", start_date=DAY, execution_date=DAY)
        )
        session.add(ti)
        session.commit()
        statements.clear()
        with_run = loaded(ti)
    with Session(engine) as session:
        without_run = session.query(TaskInstance).one()
        statements.clear()
        copy = loaded(without_run)
    assert with_run.log_url == "http://airflow/dags/grid?task_id=load&base_date=2026-01-01"
    assert not hasattr(with_run, "execution_date")  # borrowed for the property only
    assert not hasattr(copy, "log_url")  # the run is not loaded: no URL, and no query for it
    assert statements == []
