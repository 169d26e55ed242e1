// Placeholder: the kiel command line is written under issues 3 and 10.
return 0;
