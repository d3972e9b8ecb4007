# Refresh time vs share of dirty patients, every method; called by bench/run.sh:
#   gnuplot -e "datafile='...'; outfile='...'; subtitle='...'" bench/refresh.gp
# datafile columns: k share replace diff auto full floor mvc mv (median ms, NaN = missing)
set terminal pngcairo size 1100,700 enhanced font "DejaVu Sans,11"
set output outfile
set title "pg\\_incview: refresh after a change to k patients\n{/*0.8 ".subtitle."}"
set logscale xy
set format x "10^{%T}"
set format y "10^{%T}"
set xlabel "share of patients changed (k / patients)"
set ylabel "refresh time, ms (log scale)"
set grid xtics ytics mxtics mytics lc rgb "#dddddd"
set key outside right center box opaque
set datafile missing "NaN"
set pointsize 1.3
plot datafile using 2:3 with linespoints lw 2 pt 4  lc rgb "#1f77b4" title "pg\\_incview replace", \
     datafile using 2:4 with linespoints lw 2 pt 5  lc rgb "#2ca02c" title "pg\\_incview diff", \
     datafile using 2:5 with linespoints lw 3 pt 7  lc rgb "#d62728" title "pg\\_incview auto", \
     datafile using 2:6 with linespoints lw 2 pt 9  lc rgb "#9467bd" title "pg\\_incview full", \
     datafile using 2:7 with linespoints lw 2 pt 1  lc rgb "#000000" dt 2 title "hand-written DELETE+INSERT (floor)", \
     datafile using 2:8 with linespoints lw 2 pt 11 lc rgb "#ff7f0e" title "REFRESH MV CONCURRENTLY", \
     datafile using 2:9 with linespoints lw 2 pt 13 lc rgb "#8c564b" title "REFRESH MATERIALIZED VIEW"
