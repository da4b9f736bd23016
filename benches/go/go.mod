module victimpool/benches/go

go 1.19
