"""Table-driven semantics: (filter, entry, expected) for every rule of the language."""

from __future__ import annotations

import pytest

from observability.logfilter import compile_filter
from tests.logfilter.entries import ENTRIES, TASK_FAILED, variant

# Each row: filter text, name of an entry in ENTRIES, expected result.
Row = tuple[str, str, bool]

STRINGS: list[Row] = [
    ('jsonPayload.event_type="task_failed"', "failed", True),
    ('jsonPayload.event_type="TASK_FAILED"', "failed", True),  # equality ignores case
    ('jsonPayload.event_type="task_succeeded"', "failed", False),
    ('jsonPayload.event_type!="task_succeeded"', "failed", True),
    ('jsonPayload.event_type!="task_failed"', "failed", False),
    ("jsonPayload.event_type=task_failed", "failed", True),  # unquoted value
    ('jsonPayload.event_type="task"', "failed", False),  # = is whole-value equality
    ('jsonPayload.dag_id<"e"', "failed", True),
    ('jsonPayload.dag_id>"DAILY"', "failed", True),  # ordering ignores case too
    ('jsonPayload.dag_id<="daily_sales"', "failed", True),
    ('jsonPayload.dag_id>="daily_sales"', "failed", True),
    ('jsonPayload.dag_id>"daily_sales"', "failed", False),
    ('jsonPayload.city="Z\\u00fcrich"', "failed", True),  # unicode escape
    ('jsonPayload.city="ZÜRICH"', "failed", True),  # non-ASCII case folding
    ('jsonPayload.title="FILE"', "failed", True),  # NFKC_Casefold: the fi ligature
    ('jsonPayload.quote="say \\"hi\\""', "failed", True),  # escaped quotes
    ('jsonPayload.path="C:\\\\temp"', "failed", True),  # escaped backslash
    ('jsonPayload.multiline:"line1\\nline2"', "failed", True),  # \n escape
    ('resource.type="cloud_composer_environment"', "failed", True),
    ('resource.type="k8s_container"', "failed", False),
    ('logName="projects/acme-data/logs/composer-observability"', "failed", True),
]

HAS: list[Row] = [
    ('jsonPayload.exception.message:"refused"', "failed", True),
    ('jsonPayload.exception.message:"REFUSED"', "failed", True),
    ('jsonPayload.exception.message:"nect"', "failed", True),  # substring of "Connection"
    ('jsonPayload.exception.message:"timeout"', "failed", False),
    ('textPayload:"return code 1"', "worker", True),
    ("NOT textPayload:robot", "worker", True),
    ("textPayload:robot", "worker", False),
    ('jsonPayload.exception:"refused"', "failed", True),  # has searches inside an object
    ('jsonPayload:"snowflake"', "failed", True),
    ('labels:"load_orders"', "failed", True),  # has on a map looks at its values
    ('resource.labels:"composer-prod"', "failed", True),
    ('httpRequest:"composer-prod.example.com"', "http", True),
    ("jsonPayload.try_number:2", "failed", True),  # has on a number is equality
    ("jsonPayload.try_number:20", "failed", False),
    ("severity:ERROR", "failed", True),  # has on the severity enum is equality
    ('logName:"airflow-worker"', "worker", True),
]

PRESENCE: list[Row] = [
    ("jsonPayload.exception:*", "failed", True),
    ("jsonPayload.nothing:*", "failed", False),
    ("NOT jsonPayload.nothing:*", "failed", True),
    ("jsonPayload.owner:*", "failed", True),  # present, with a null value
    ("textPayload:*", "failed", False),  # absent LogEntry fields are not "present"
    ("textPayload:*", "worker", True),
    ("severity:*", "http", False),
    ("severity:*", "failed", True),
    ("httpRequest:*", "http", True),
    ("httpRequest:*", "failed", False),
    ("httpRequest.status:*", "failed", False),
    ('labels."task-id":*', "failed", True),
    ("labels.nothing:*", "failed", False),
    ("jsonPayload:*", "worker", False),
]

REGEX: list[Row] = [
    ('jsonPayload.exception.type=~"Error$"', "failed", True),
    ('jsonPayload.exception.type=~"^Connection"', "failed", True),
    ('jsonPayload.exception.type=~"connection"', "failed", False),  # case-sensitive
    ('jsonPayload.exception.type=~"(?i)connection"', "failed", True),
    ('jsonPayload.exception.type=~"ionErr"', "failed", True),  # not anchored
    ('jsonPayload.exception.type=~"^ConnectionError$"', "failed", True),
    ('jsonPayload.exception.type=~"^Error"', "failed", False),
    ('jsonPayload.exception.type!~"Timeout"', "failed", True),
    ('jsonPayload.exception.type!~"Connection"', "failed", False),
    ('jsonPayload.nothing!~"x"', "failed", False),  # missing field: even !~ is false
    ('jsonPayload.nothing=~".*"', "failed", False),
    ('jsonPayload.try_number=~"2"', "failed", False),  # regex only matches strings
    ('severity=~"ERR"', "failed", True),  # enum matched by its name
    ('severity=~"^DEFAULT$"', "http", True),  # absent severity is DEFAULT
    ('logName=~"airflow-(worker|scheduler)$"', "worker", True),
    ('logName=~"airflow-(worker|scheduler)$"', "http", False),
    ('jsonPayload.run_id=~"^scheduled__\\d{4}-"', "failed", True),
    ('labels.env=~("^prod" OR "^staging")', "failed", True),
    ('labels.env=~("^dev" OR "^staging")', "failed", False),
    ('jsonPayload.tags=~"^Fin"', "failed", True),  # list: any member
    ('jsonPayload.tags=~"^fin"', "failed", False),
    ('textPayload=~"code \\d+:"', "worker", True),
    ('textPayload=~"^$"', "failed", True),  # absent textPayload is defaulted to ""
    ('textPayload!~"anything"', "failed", True),
    ('timestamp=~"^2026-11-23T10"', "failed", True),
    ('jsonPayload.exception.message=~"row$|5432$"', "failed", True),
]

BOOLEAN_LOGIC: list[Row] = [
    ('jsonPayload.dag_id="daily_sales" AND jsonPayload.try_number=2', "failed", True),
    ('jsonPayload.dag_id="daily_sales" AND jsonPayload.try_number=3', "failed", False),
    ('jsonPayload.dag_id="nope" OR jsonPayload.try_number=2', "failed", True),
    ('jsonPayload.dag_id="nope" OR jsonPayload.try_number=3', "failed", False),
    ('NOT jsonPayload.dag_id="daily_sales"', "failed", False),
    ('-jsonPayload.dag_id="daily_sales"', "failed", False),
    ("-severity=INFO", "failed", True),
    ("jsonPayload.dag_id=daily_sales jsonPayload.try_number=2", "failed", True),  # implicit AND
    ("jsonPayload.dag_id=daily_sales\njsonPayload.try_number=3", "failed", False),
    ("(severity=INFO OR severity=ERROR) AND jsonPayload.try_number=2", "failed", True),
    ("((severity=INFO OR (severity=ERROR)))", "failed", True),
    # AND binds loosest: (T OR F) AND F, where the usual precedence would give T.
    ('severity=ERROR OR jsonPayload.event_type="x" jsonPayload.dag_id="nope"', "failed", False),
    ('severity=ERROR OR jsonPayload.event_type="x" AND jsonPayload.dag_id="nope"', "failed", False),
    # NOT binds tightest: (NOT T) OR T.
    ('NOT severity=ERROR OR jsonPayload.dag_id="daily_sales"', "failed", True),
    # Lower-case and/or/not are search words, not operators.
    ('jsonPayload.dag_id="daily_sales" and jsonPayload.task_id="load_orders"', "failed", False),
    ('labels.workflow="daily_sales" and labels."task-id"="extract"', "worker", True),
    ('jsonPayload.dag_id="nope" or jsonPayload.task_id="load_orders"', "failed", False),
    ('not jsonPayload.dag_id="daily_sales"', "failed", False),
    ("NOT NOT severity=ERROR", "failed", True),
    ("NOT -severity=ERROR", "failed", True),
    ('(jsonPayload.try_number=2 OR jsonPayload.try_number=3) -"timeout"', "failed", True),
]

RIGHT_HAND_GROUPS: list[Row] = [
    ('resource.type=("k8s_container" OR "cloud_composer_environment")', "failed", True),
    ('resource.type=("k8s_container" OR "gce_instance")', "failed", False),
    ("severity=(ERROR OR CRITICAL)", "failed", True),
    ("severity=(WARNING OR CRITICAL)", "failed", False),
    ('jsonPayload.exception.message:("refused" AND "warehouse")', "failed", True),
    ('jsonPayload.exception.message:("refused" AND "timeout")', "failed", False),
    ("jsonPayload.exception.message:(refused warehouse)", "failed", True),  # implicit AND
    ('jsonPayload.event_type=(NOT "task_succeeded")', "failed", True),
    ('jsonPayload.event_type=(NOT "task_failed")', "failed", False),
    ('jsonPayload.nothing=(NOT "a")', "failed", True),  # NOT of a missing-field comparison
    ('jsonPayload.event_type=("x" OR (NOT "y" AND "task_failed"))', "failed", True),
    ("jsonPayload.duration_s=(-13)", "failed", False),  # -13 is a number here...
    ("jsonPayload.duration_s=(- 13)", "failed", True),  # ...and "- 13" is NOT 13
    ("jsonPayload.duration_s>(-13 AND 12)", "failed", True),
    ("jsonPayload.duration_s=(-12.5 OR 1)", "failed", False),
    ("jsonPayload.duration_s=(NOT -12.5)", "failed", True),
]

PATHS: list[Row] = [
    ('labels."task-id"="load_orders"', "failed", True),
    ('labels.task-id="load_orders"', "failed", True),  # "-" inside a word is fine
    ('jsonPayload."my.key"="dotted"', "failed", True),
    ('jsonPayload.my.key="dotted"', "failed", False),  # that is my -> key, which is missing
    ('resource.labels.environment_name="composer-prod"', "failed", True),
    ('resource.labels.environment_name="composer-prod"', "audit", False),  # missing label
    ('jsonPayload.third_party.service="snowflake"', "failed", True),
    ('json_payload.dag_id="daily_sales"', "failed", True),
    ('log_name="projects/acme-data/logs/composer-observability"', "failed", True),
    ('insert_id="1a2b3c4d5e6f"', "failed", True),
    ("http_request.status=502", "http", True),
    ('http_request.request_method="get"', "http", True),
    ('receive_timestamp>="2026-11-23T10:00:01Z"', "failed", True),
    ('text_payload:"return code"', "worker", True),
    ('span_id="000000000000004a"', "http", True),
    ("source_location.line=1234", "worker", True),  # int64 arrives as a string in REST
    ("sourceLocation.line>1000", "worker", True),
    ('sourceLocation.function="_run_raw_task"', "worker", True),
    ('JSONPAYLOAD.dag_id="daily_sales"', "failed", True),  # LogEntry names ignore case
    ('jsonPayload.DAG_ID="daily_sales"', "failed", False),  # payload keys do not
    ('proto_payload.method_name:"UpdateEnvironment"', "audit", True),  # proto names: any case
    ('protoPayload.methodname:"updateenvironment"', "audit", True),
    (
        'protoPayload.authentication_info.principal_email="deployer@acme-data.iam.gserviceaccount.com"',
        "audit",
        True,
    ),
    ('protoPayload."@type"="type.googleapis.com/google.cloud.audit.AuditLog"', "audit", True),
    ("protoPayload.@type:AuditLog", "audit", True),
    ("protoPayload.status.code=7", "audit", True),
    ('jsonPayload.third_party.endpoints.host="192.168.0.7"', "failed", True),  # list fan-out
    ('jsonPayload.third_party.endpoints.host="10.9.9.9"', "failed", False),
]

MISSING_AND_DEFAULTS: list[Row] = [
    ('jsonPayload.nothing="x"', "failed", False),
    ('jsonPayload.nothing!="x"', "failed", False),  # != on a missing field is false
    ('NOT jsonPayload.nothing="x"', "failed", True),  # ...but NOT = is true
    ('-jsonPayload.nothing="x"', "failed", True),
    ('NOT jsonPayload.nothing!="x"', "failed", True),
    ("jsonPayload.nothing<5", "failed", False),
    ('labels.nothing!="x"', "failed", False),
    ('jsonPayload.exception.nothing="x"', "failed", False),
    ('jsonPayload.dag_id.deeper="x"', "failed", False),  # a string has no fields
    ("severity=DEFAULT", "http", True),  # absent severity is DEFAULT
    ("severity<INFO", "http", True),
    ("severity!=DEFAULT", "http", False),
    ("severity>=DEFAULT", "bare", True),
    ('textPayload=""', "failed", True),  # absent textPayload is defaulted to ""
    ('textPayload!="x"', "failed", True),  # defaulted, so unlike a missing field
    ('textPayload:"x"', "failed", False),
    ("httpRequest.status=0", "failed", True),
    ("httpRequest.status!=200", "failed", True),
    ("httpRequest.status>=500", "failed", False),
    ('trace=""', "failed", True),
    ('operation.producer=""', "failed", True),
    ("operation.first=false", "failed", True),
    ("traceSampled=false", "bare", True),
    ('timestamp<"1971-01-01"', "bare", True),  # the default timestamp is the epoch
    ('httpRequest.latency="0s"', "bare", True),
]

SEVERITY: list[Row] = [
    ("severity>=ERROR", "failed", True),
    ("severity>=error", "failed", True),
    ('severity>="Error"', "failed", True),
    ("severity>ERROR", "failed", False),
    ("severity>CRITICAL", "failed", False),
    ("severity<CRITICAL", "failed", True),
    ("severity>=400", "failed", True),  # numbers work too
    ("severity=500", "failed", True),
    ("severity<=WARNING", "worker", True),
    ("severity>WARNING", "worker", False),
    ("severity=NOTICE", "audit", True),
    ("severity>NOTICE", "audit", False),
    ("severity>=DEBUG", "audit", True),
    ("severity=BOGUS", "failed", False),  # unconvertible value: comparison fails
    ("severity!=BOGUS", "failed", False),
    ("severity<EMERGENCY", "failed", True),
    ("severity>=ALERT", "failed", False),
]

TIMESTAMPS: list[Row] = [
    ('timestamp>="2026-11-23T10:00:00Z"', "failed", True),
    ('timestamp>"2026-11-23T10:00:00.123456Z"', "failed", False),
    ('timestamp="2026-11-23T10:00:00.123456Z"', "failed", True),
    ('timestamp="2026-11-23T10:00:00.123456000Z"', "failed", True),  # same instant
    ('timestamp="2026-11-23T11:00:00.123456+01:00"', "failed", True),  # same instant
    ('timestamp>="2026-11-23T11:00:00+01:00"', "failed", True),
    ('timestamp<"2026-11-23T11:00:00+02:00"', "failed", False),
    ('timestamp<"2026-11-23T05:00:00-05:00"', "failed", False),
    ('timestamp<"2026-11-23T05:00:01-05:00"', "failed", True),
    ('timestamp>"2026-11-23"', "failed", True),  # a date means midnight UTC
    ('timestamp<"2026-11-24"', "failed", True),
    ('timestamp>="2026-11-23T10:00:00.5Z"', "failed", False),
    ('timestamp>"2026-11-23T10:10:00Z"', "http", True),  # nanosecond precision
    ('timestamp>"2026-11-23T10:10:00.000000001Z"', "http", False),
    ('timestamp>="yesterday"', "failed", False),  # unconvertible: comparison fails
    ('timestamp<="yesterday"', "failed", False),
    ('timestamp>="2026-11-23T09:00:00Z" timestamp<="2026-11-23T10:30:00Z"', "failed", True),
    ('timestamp>="2026-11-23T09:00:00Z" timestamp<="2026-11-23T10:30:00Z"', "worker", True),
    ('timestamp>="2026-11-23T09:00:00Z" timestamp<="2026-11-23T10:30:00Z"', "audit", False),
    ('receiveTimestamp>"2026-11-23T10:00:01.499Z"', "failed", True),
    # Payload strings that hold RFC 3339 instants compare as instants against one.
    ('jsonPayload.started_at="2026-11-23T09:59:47.500Z"', "failed", True),
    ('jsonPayload.started_at>"2026-11-23T10:59:00+02:00"', "failed", True),
    ('jsonPayload.started_at<"2026-11-23T09:59:47Z"', "failed", False),
    ('jsonPayload.run_id:"2026-11-23"', "failed", True),  # has stays a substring test
]

NUMBERS: list[Row] = [
    ("jsonPayload.third_party.latency_ms>1000", "failed", True),
    ('jsonPayload.third_party.latency_ms>"1000"', "failed", True),  # quoted number
    ("jsonPayload.third_party.latency_ms>=1500", "failed", True),
    ("jsonPayload.third_party.latency_ms>1500", "failed", False),
    ("jsonPayload.third_party.latency_ms<1500.5", "failed", True),
    ("jsonPayload.third_party.latency_ms=1500", "failed", True),
    ("jsonPayload.third_party.latency_ms=1.5e3", "failed", True),
    ('jsonPayload.n="100"', "failed", True),
    ("jsonPayload.n=100.0", "failed", True),
    ("jsonPayload.n>99.5", "failed", True),
    ('jsonPayload.n="abc"', "failed", False),  # unconvertible
    ('jsonPayload.n!="abc"', "failed", False),
    ("jsonPayload.duration_s<13", "failed", True),
    ("jsonPayload.duration_s>-1", "failed", True),
    ("jsonPayload.duration_s>=-12.5", "failed", True),
    ('jsonPayload.count_str="0042"', "failed", True),
    ("jsonPayload.count_str=42", "failed", False),  # a string field compares as a string
    ('jsonPayload.count_str>"0041"', "failed", True),
    ("jsonPayload.scores<7", "failed", True),  # [8.5, 9, 6]: any member
    ("jsonPayload.scores>9", "failed", False),
    ("jsonPayload.scores=9", "failed", True),
    ("httpRequest.status>=500", "http", True),
    ('httpRequest.status="502"', "http", True),
    ("httpRequest.status=502.5", "http", False),  # not an integer: conversion fails
    ("httpRequest.status<600", "http", True),
    ("httpRequest.responseSize>5000", "http", True),  # int64 sent as "5120"
    ('httpRequest.latency>"200ms"', "http", True),
    ('httpRequest.latency<"1s"', "http", True),
    ('httpRequest.latency="0.25s"', "http", True),
    ('httpRequest.latency="250000us"', "http", True),
    ('httpRequest.latency>"1m"', "http", False),
    ("httpRequest.latency<1s", "http", True),  # unquoted duration
    ('labels."try-number"=2', "failed", True),  # labels are strings...
    ('labels."try-number">10', "failed", True),  # ...so "2" > "10"
    ('labels."try-number"<10', "failed", False),
    ("protoPayload.status.code>=7", "audit", True),
]

BOOLEANS_AND_NULLS: list[Row] = [
    ("jsonPayload.is_retry=true", "failed", True),
    ("jsonPayload.is_retry=TRUE", "failed", True),
    ('jsonPayload.is_retry="True"', "failed", True),
    ("jsonPayload.is_retry=false", "failed", False),
    ("jsonPayload.is_retry!=false", "failed", True),
    ("jsonPayload.is_retry>false", "failed", True),  # true > false
    ("jsonPayload.is_retry=1", "failed", False),  # 1 is not a bool
    ("httpRequest.cacheHit=false", "http", True),
    ("httpRequest.cacheHit=true", "http", False),
    ("httpRequest.cacheHit=yes", "http", False),
    ("jsonPayload.owner=NULL_VALUE", "failed", True),
    ("NOT jsonPayload.owner=NULL_VALUE", "failed", False),
    ("jsonPayload.owner!=NULL_VALUE", "failed", False),
    ("jsonPayload.dag_id!=NULL_VALUE", "failed", True),
    ("jsonPayload.dag_id=NULL_VALUE", "failed", False),
    ("jsonPayload.nothing=NULL_VALUE", "failed", False),  # missing is not null
    ('jsonPayload.owner="x"', "failed", False),
    ('jsonPayload.owner="NULL_VALUE"', "failed", False),  # quoted: just a string
]

LISTS: list[Row] = [
    ('jsonPayload.tags="finance"', "failed", True),
    ('jsonPayload.tags="marketing"', "failed", False),
    ('jsonPayload.tags!="sales"', "failed", True),  # "Finance" != "sales"
    ('jsonPayload.tags:"fin"', "failed", True),
    ('NOT jsonPayload.tags="sales"', "failed", False),
]

GLOBAL_RESTRICTIONS: list[Row] = [
    ("refused", "failed", True),
    ('"Connection refused"', "failed", True),
    ('"connection REFUSED"', "failed", True),
    ('"refused connection"', "failed", False),
    ("snowflake", "failed", True),
    ("timeout", "failed", False),
    ("1500", "failed", True),  # numbers are compared by value
    ("150", "failed", False),
    ("composer-prod", "failed", True),  # resource labels count
    ("error", "failed", True),  # so does the severity name
    ("unicorn phoenix", "failed", False),
    ("snowflake warehouse", "failed", True),  # both, in different fields
    ("(refused AND (hat OR warehouse))", "failed", True),
    ("NOT snowflake", "failed", False),
    ("-timeout", "failed", True),
    ('"bad row"', "worker", True),
    ('"load_orders"', "worker", False),
    ("true", "failed", True),  # jsonPayload.is_retry
    ("NULL_VALUE", "failed", True),  # jsonPayload.owner
    ("NULL_VALUE", "worker", False),
    ('severity=ERROR "refused"', "failed", True),
    ('insertId = "nope" OR "refused"', "failed", True),  # the docs' "ERROR!?" example
]

FUNCTIONS: list[Row] = [
    ('log_id("composer-observability")', "failed", True),
    ('log_id("airflow-worker")', "worker", True),
    ('log_id("airflow-worker")', "failed", False),
    ('LOG_ID("airflow-worker")', "worker", True),  # function names ignore case
    ("log_id(airflow-worker)", "worker", True),  # unquoted id
    ('log_id("cloudaudit.googleapis.com/activity")', "audit", True),
    ('log_id("cloudaudit.googleapis.com%2Factivity")', "audit", False),  # plain id only
    ('logName="projects/acme-data/logs/cloudaudit.googleapis.com%2Factivity"', "audit", True),
    ('logName="projects/acme-data/logs/cloudaudit.googleapis.com/activity"', "audit", False),
    ("source(projects/acme-data)", "failed", True),
    ("source(projects/other)", "failed", False),
    ("source(folders/123)", "failed", False),
    ('SEARCH("refused")', "failed", True),
    ('SEARCH("REFUSED")', "failed", True),
    ('search("refused")', "failed", True),
    ('SEARCH("refuse")', "failed", False),  # whole tokens only
    ('SEARCH("warehouse refused")', "failed", True),  # all tokens, any order
    ('SEARCH("warehouse timeout")', "failed", False),
    ('SEARCH("task")', "failed", True),  # "_" splits task_failed into task, failed
    ('SEARCH("task_failed")', "failed", True),
    ('SEARCH("tasks")', "failed", False),
    ('SEARCH("`refused by`")', "failed", True),  # backticks: an exact phrase
    ('SEARCH("`by refused`")', "failed", False),
    ('SEARCH("`REFUSED BY` warehouse")', "failed", True),
    ('SEARCH("snowflake refused")', "failed", True),  # tokens from different fields
    ('SEARCH(jsonPayload.exception.message, "refused")', "failed", True),
    ('SEARCH(jsonPayload.exception.type, "refused")', "failed", False),
    ('SEARCH(jsonPayload.exception, "snowflake refused")', "failed", False),
    ('SEARCH(textPayload, "valueerror")', "worker", True),
    ('SEARCH(textPayload, "ValueError bad")', "worker", True),
    ('SEARCH(jsonPayload.nothing, "x")', "failed", False),
    ('SEARCH("1500")', "failed", False),  # SEARCH only looks at text
    ('ip_in_net(protoPayload.requestMetadata.callerIp, "10.0.0.0/8")', "audit", True),
    ('ip_in_net(protoPayload.requestMetadata.callerIp, "192.168.0.0/16")', "audit", False),
    ('ip_in_net(httpRequest.remoteIp, "203.0.113.0/24")', "http", True),
    ('ip_in_net(httpRequest.remoteIp, "203.0.113.9")', "http", True),
    ('ip_in_net(httpRequest.remoteIp, "10.0.0.0/8")', "failed", False),  # defaulted: false
    ('ip_in_net(jsonPayload.third_party.endpoints.host, "192.168.0.0/16")', "failed", True),
    ('ip_in_net(jsonPayload.client_ip, "2001:db8::/32")', "failed", True),
    ('ip_in_net(jsonPayload.client_ip, "10.0.0.0/8")', "failed", False),
    ('ip_in_net(jsonPayload.dag_id, "10.0.0.0/8")', "failed", False),  # not an address
    ("sample(insertId, 1)", "failed", True),
    ("sample(insertId, 1.0)", "bare", True),  # defaulted insertId "" is still sampled
    ("sample(jsonPayload.nothing, 1)", "failed", False),  # missing payload field: never
    ('cast(timestamp, STRING) =~ "^2026-11-23T10:00:00.123456Z$"', "failed", True),
    (
        'cast(timestamp, STRING, TIMEZONE("America/New_York")) =~ "^2026-11-23T05:00"',
        "failed",
        True,
    ),
    ('CAST(labels."try-number", INT64) > 1', "failed", True),
    ('cast(labels."try-number", INT64) < 10', "failed", True),  # numeric, unlike the label
    ('cast(jsonPayload.try_number, STRING) = "2"', "failed", True),
    ("cast(jsonPayload.dag_id, INT64) = 0", "failed", False),  # conversion fails
    ("cast(severity, INT64) >= 500", "failed", True),
    ("cast(jsonPayload.is_retry, BOOL) = true", "failed", True),
    ('cast(jsonPayload.started_at, TIMESTAMP) < "2026-11-23T10:00:00Z"', "failed", True),
    ('regexp_extract(jsonPayload.exception.message, ":(\\\\d+)$") = "5432"', "failed", True),
    ('REGEXP_EXTRACT(jsonPayload.exception.message, "by (\\\\w+)") = "warehouse"', "failed", True),
    (
        'cast(regexp_extract(jsonPayload.exception.message, ":(\\\\d+)$"), INT64) > 5000',
        "failed",
        True,
    ),
    ('regexp_extract(jsonPayload.exception.message, "(nomatch)") != "x"', "failed", False),
]

COMMENTS_AND_EMPTY: list[Row] = [
    ("severity>=ERROR -- only errors\njsonPayload.dag_id=daily_sales", "failed", True),
    ("-- everything is commented out", "failed", True),
    ("severity=INFO -- AND this is ignored", "failed", False),
    ("severity=ERROR -- OR severity=INFO\n-- jsonPayload.dag_id=nope\n", "failed", True),
    ("", "failed", True),
    ("   ", "bare", True),
    ("\n\t ", "worker", True),
]

TABLE = [
    pytest.param(text, name, expected, id=f"{name}:{text[:70]}")
    for group in (
        STRINGS,
        HAS,
        PRESENCE,
        REGEX,
        BOOLEAN_LOGIC,
        RIGHT_HAND_GROUPS,
        PATHS,
        MISSING_AND_DEFAULTS,
        SEVERITY,
        TIMESTAMPS,
        NUMBERS,
        BOOLEANS_AND_NULLS,
        LISTS,
        GLOBAL_RESTRICTIONS,
        FUNCTIONS,
        COMMENTS_AND_EMPTY,
    )
    for text, name, expected in group
]


@pytest.mark.parametrize(("text", "entry_name", "expected"), TABLE)
def test_filter_on_entry(text: str, entry_name: str, expected: bool) -> None:
    result = compile_filter(text).matches(ENTRIES[entry_name])
    assert result is expected


@pytest.mark.parametrize(
    ("severity", "text", "expected"),
    [
        (600, "severity=CRITICAL", True),  # a numeric severity in the entry
        (600, 'severity=~"CRIT"', True),
        ("warning", "severity=WARNING", True),  # a lower-case name in the entry
        ("warning", "severity<ERROR", True),
        ("NOT_A_LEVEL", "severity>=DEFAULT", False),
    ],
)
def test_unusual_severity_values(severity: object, text: str, expected: bool) -> None:
    entry = variant(TASK_FAILED, severity=severity)
    assert compile_filter(text).matches(entry) is expected


def test_odd_shapes_never_raise() -> None:
    """Entries with unexpected types just fail comparisons."""
    entry = {
        "logName": 42,
        "resource": "not-a-dict",
        "severity": ["ERROR"],
        "timestamp": 1700000000,
        "labels": {"a": 1},
        "jsonPayload": {"x": {"y": [1, {"z": None}]}, "deep": [[["needle"]]]},
        "httpRequest": {"status": "not-a-number", "latency": 5},
    }
    filters = [
        'resource.type="x"',
        "severity>=ERROR",
        'timestamp>"2020-01-01"',
        "labels.a=1",
        "jsonPayload.x.y.z=NULL_VALUE",
        'jsonPayload.deep="needle"',
        "httpRequest.status>=500",
        'httpRequest.latency>"1s"',
        'log_id("x")',
        "source(projects/p)",
        "sample(logName, 0.5)",
        'SEARCH("needle")',
        'ip_in_net(httpRequest.status, "10.0.0.0/8")',
        'cast(timestamp, STRING) = "x"',
        "needle",
    ]
    results = {text: compile_filter(text).matches(entry) for text in filters}
    assert results['jsonPayload.deep="needle"'] is True  # nested lists are flattened
    assert results["jsonPayload.x.y.z=NULL_VALUE"] is True
    assert results["labels.a=1"] is True
    assert results["needle"] is True
    assert all(isinstance(result, bool) for result in results.values())
