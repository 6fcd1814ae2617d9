#!/usr/bin/env bash
# Installs the engines the Iceberg REST tests run against tarn serve, each
# pinned, into .tmp/engines (gitignored; a second run is fast):
#   .tmp/engines/duckdb  DuckDB 1.4.4 with its iceberg, httpfs and avro
#                        extensions (the PyPI packages of that version)
#   .tmp/engines/spark   PySpark 4.1 (Java 17 runs it)
#   .tmp/engines/jars    Iceberg's Spark runtime for Spark 4.1 (Maven Central)
# PyIceberg is in the repo's .venv (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

DUCKDB=1.4.4
DUCKDB_EXT=1.4.4.20260205
PYSPARK=4.1.4
ICEBERG_SPARK=org.apache.iceberg:iceberg-spark-runtime-4.1_2.13:1.12.0

PY=${PYTHON:-python3}
UV="uv"
command -v uv >/dev/null 2>&1 || UV="$PY -m uv"
ENGINES=.tmp/engines
mkdir -p "$ENGINES"

if ! "$ENGINES/duckdb/bin/python" -c "import duckdb, duckdb_ext, sys; sys.exit(duckdb.__version__ != '$DUCKDB')" >/dev/null 2>&1; then
  echo "engines: installing DuckDB $DUCKDB with the iceberg, httpfs and avro extensions"
  $UV venv --quiet --allow-existing --python "$PY" "$ENGINES/duckdb"
  $UV pip install --quiet --python "$ENGINES/duckdb/bin/python" "duckdb==$DUCKDB" \
    "duckdb-ext-iceberg==$DUCKDB_EXT" "duckdb-ext-httpfs==$DUCKDB_EXT" "duckdb-ext-avro==$DUCKDB_EXT"
fi

if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    echo "engines: installing Java 17 and Maven (Debian packages) for Spark"
    { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq openjdk-17-jre-headless maven; } >/dev/null 2>&1 ||
      echo "engines: could not install Java and Maven; the Spark test will fail" >&2
  fi
fi

if ! "$ENGINES/spark/bin/python" -c "import pyspark, sys; sys.exit(pyspark.__version__ != '$PYSPARK')" >/dev/null 2>&1; then
  echo "engines: installing PySpark $PYSPARK (about 450 MB, once)"
  $UV venv --quiet --allow-existing --python "$PY" "$ENGINES/spark"
  $UV pip install --quiet --python "$ENGINES/spark/bin/python" "pyspark==$PYSPARK"
fi

JAR="$ENGINES/jars/$(echo "$ICEBERG_SPARK" | awk -F: '{print $2 "-" $3 ".jar"}')"
if [ ! -s "$JAR" ]; then
  echo "engines: downloading $ICEBERG_SPARK"
  mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
    -Dartifact="$ICEBERG_SPARK" -DoutputDirectory="$ENGINES/jars" >/dev/null
fi
echo "engines: done"
