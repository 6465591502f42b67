# Replay lag over time for the end-to-end benchmark; bench/run.sh calls
#   gnuplot -e "datafile='lag.dat'; outfile='lag.png'; rate=5000; steady=60" bench/lag.gnuplot
# datafile: "seconds-since-replay-start lag-seconds" per line.
if (!exists("datafile")) datafile = 'lag.dat'
if (!exists("outfile")) outfile = 'lag.png'
if (!exists("rate")) rate = 5000
# steady: where the steady-state window (p50/p99) begins, in seconds; < 0 none.
if (!exists("steady")) steady = -1
set terminal pngcairo size 900,450 font ",10"
set output outfile
set title sprintf("cdc-replay lag while the source takes %d writes/s", rate)
set xlabel "seconds since cdc-replay started"
set ylabel "lag (s)"
set grid
set yrange [0:*]
set key below
if (steady >= 0) set arrow from steady, graph 0 to steady, graph 1 nohead dashtype 2 lc rgb "gray40"
if (steady >= 0) set label "steady state (p50/p99) from here" at steady, graph 0.95 offset 1, 0 tc rgb "gray40"
plot datafile using 1:2 with linespoints pointtype 7 pointsize 0.4 title "replay lag (status lines)"
