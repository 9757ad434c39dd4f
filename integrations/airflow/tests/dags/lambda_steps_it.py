"""The DAG tests/it/clients/airflow.rs runs with `airflow dags test` against a real service:
both operators, a failing function, the deferrable path of both outcomes, and a task that
reads the results back from XCom. The service is the `lambda_steps_default` connection."""

import json
import os

import pendulum
from airflow.sdk import DAG, task
from lambda_steps_airflow.operators.lambda_steps import LambdaStepsCustomCodeOperator, LambdaStepsInvokeOperator

GREETER = """
import time

def lambda_handler(event, context):
    for n in range(3):
        print('tick', n, flush=True)
        time.sleep(0.2)
    print('hello', event['who'])
    return {'greeting': 'hello ' + event['who']}
"""

FAILING = """
def lambda_handler(event, context):
    print('about to fail')
    raise RuntimeError('no disk on ' + event['host'])
"""

with DAG("lambda_steps_it", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False):
    custom = LambdaStepsCustomCodeOperator(
        task_id="custom",
        runtime="python3.12",
        code=GREETER,
        payload={"who": "{{ dag.dag_id }}"},
        description="airflow {{ task.task_id }}",
        tags={"team": "sre"},
    )
    invoke = LambdaStepsInvokeOperator(
        task_id="invoke",
        function_name=os.environ["LAMBDA_STEPS_IT_FUNCTION"],
        payload={"who": "airflow"},
        client_context={"custom": {"ticket": "INC-42"}},
    )
    LambdaStepsCustomCodeOperator(task_id="failing", runtime="python3.12", code=FAILING, payload={"host": "db-1"})
    deferred = LambdaStepsCustomCodeOperator(
        task_id="deferred", runtime="python3.12", code=GREETER, payload={"who": "triggerer"}, deferrable=True
    )
    LambdaStepsCustomCodeOperator(
        task_id="deferred_failing",
        runtime="python3.12",
        code=FAILING,
        payload={"host": "db-2"},
        deferrable=True,
        retries=0,
    )

    @task
    def results(ti=None):
        pulled = {name: ti.xcom_pull(task_ids=name) for name in ("custom", "invoke", "deferred")}
        pulled["custom_run_id"] = ti.xcom_pull(task_ids="custom", key="run_id")
        print("xcom " + json.dumps(pulled, sort_keys=True))

    [custom, invoke, deferred] >> results()
