"""Reading an ORM object the way the listener does never queries, refreshes or detaches it:
the cause of issue 12's scheduler crash, shown on a real SQLAlchemy session."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, ForeignKey, String, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from callbacks.snapshot import loaded


class Base(DeclarativeBase):
    pass


class Run(Base):
    __tablename__ = "run"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(String(50))
    start_date: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TaskInstance(Base):
    __tablename__ = "ti"
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[str] = mapped_column(String(50))
    run_pk: Mapped[int] = mapped_column(ForeignKey("run.id"))
    dag_run: Mapped[Run] = relationship()


def test_reading_never_queries_through_the_session_and_never_detaches() -> None:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with Session(engine) as session:
        run = Run(run_id="manual__1", start_date=datetime(2026, 1, 1, tzinfo=timezone.utc))
        session.add(TaskInstance(task_id="load", dag_run=run))
        session.commit()  # expires everything, as Airflow's commits do
        ti = session.query(TaskInstance).one()
        ti.task = "the operator"  # a plain attribute Airflow sets on its task instances
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
        run = Run(run_id="manual__2", start_date=datetime(2026, 1, 1, tzinfo=timezone.utc))
        ti = TaskInstance(task_id="load", dag_run=run)
        session.add(ti)
        session.commit()
        snapshot = loaded(ti)
        assert snapshot.dag_run.run_id == "manual__2"
    plain = object()
    assert loaded(plain) is plain
    assert loaded(3) == 3
