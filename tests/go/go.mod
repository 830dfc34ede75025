module noselfconn.test/go

go 1.19
