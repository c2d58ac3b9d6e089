# language: da
Egenskab: Videregivelser står i borgerens indsigt
  Ved et registerudtræk videregives borgerens CPR-nummer til registrets ejer til måling af
  projektets resultater (sundhedsloven § 43, stk. 1, med borgerens samtykke). Borgeren har
  ret til at vide, hvem oplysningerne er videregivet til (databeskyttelsesforordningens
  artikel 15, stk. 1, litra c). Hvert udtræk registrerer derfor for hver borger, det
  omfatter, en videregivelse med dato, formål, modtager, retsgrundlag og det samtykke, der
  blev brugt (retsgrundlaget står pr. formål i policies/extracts.yaml).

  Baggrund:
    Givet en borger på Hold 2 henvist den 2. november 2026 til udtræk
    Og borgeren har et journalsamtykke underskrevet og indført i journalen den 5. november 2026
    Og en anden borger på Hold 2 henvist den 2. november 2026 uden samtykke
    Og en godkendt anmodning om 1-års-målingen planlagt til den 4. november 2027

  Regel: Et udtræk, der omfatter borgeren, står i borgerens indsigt

    Scenarie: En videregivelse står i borgerens indsigt
      Når udtrækket udføres den 4. november 2027
      Så står en videregivelse den 4. november 2027 i borgerens indsigt
      Og formålet er "Betalingsmål 1, regionalt (færre kontakter til sundhedsvæsenet)"
      Og modtageren er "Region Midtjylland"
      Og retsgrundlaget nævner "sundhedsloven § 42 d, stk. 1, og § 43, stk. 1"
      Og videregivelsen står også i indsigten som PDF
      Og den anden borgers indsigt har ingen videregivelser

  Regel: En tilbagekaldelse ændrer ikke en videregivelse, der er sket, og borgeren får det at vide

    Scenarie: Tilbagekaldelse efter udtrækket
      Givet udtrækket er udført den 4. november 2027
      Når borgeren vil tilbagekalde sit journalsamtykke den 10. november 2027
      Så siger bekræftelsen, at oplysningerne blev videregivet den 4. november 2027 til "Region Midtjylland"
