module dbtrun/bench/s3server

go 1.22
