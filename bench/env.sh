# The benchmark platform's isolation settings, sourced by bench/platform.sh and bench/rss.sh:
# subject root `bench`, gRPC ports GRPC_BASE…+7 and admin ports HTTP_BASE…+7 (in `services`
# order), and the bench's own databases `ordercycle_bench_<service>`. Expects `services`,
# GRPC_BASE and HTTP_BASE to be set.
export OC_SUBJECT_ROOT=bench
export OC_DATABASE_URL=postgres://postgres@127.0.0.1:5432
i=0
for s in "${services[@]}"; do
    upper="${s^^}"
    export "OC_${upper}_GRPC_ADDR=127.0.0.1:$((GRPC_BASE + i))"
    export "OC_${upper}_HTTP_ADDR=127.0.0.1:$((HTTP_BASE + i))"
    export "OC_${upper}_DATABASE_URL=$OC_DATABASE_URL/ordercycle_bench_$s"
    i=$((i + 1))
done
export OC_FULFILLMENT_SHIPPING_URL=http://127.0.0.1:$((GRPC_BASE + 4))
