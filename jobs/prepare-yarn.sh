#!/usr/bin/env bash
# Prepare the corpora of a mixture definition on YARN (see jobs/README.md).
#
#   HADOOP_CONF_DIR=/etc/hadoop/conf jobs/prepare-yarn.sh configs/mixtures/paper.yaml [more prepare options]
#
# The definition's inputs, tokenizer and data folder should be hdfs:// URIs.
set -euo pipefail
cd "$(dirname "$0")/.."
config="${1:?usage: jobs/prepare-yarn.sh MIXTURE.yaml [prepare options]}"
shift
: "${HADOOP_CONF_DIR:?set HADOOP_CONF_DIR to the cluster configuration (mapreduce.framework.name=yarn)}"
exec bin/turbosparse prepare --mapreduce --config "$config" "$@"
