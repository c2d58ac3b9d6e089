# language: da
Egenskab: Tilbagekaldelse af samtykke
  Et journalsamtykke kan tilbagekaldes, indtil oplysningerne er indhentet hhv. videregivet
  (sundhedsloven § 42 d og § 43, som beskrevet i projektbeskrivelsen). Et
  databeskyttelsesretligt samtykke til trivselsoplysninger kan tilbagekaldes når som helst,
  med virkning fra da af (databeskyttelsesforordningens artikel 7, stk. 3).
  Borgeren tilbagekalder ved at kontakte navigatøren personligt, på telefon eller med brev.

  Regel: Et journalsamtykke kan tilbagekaldes, før oplysningerne er indhentet

    Scenarie: Tilbagekaldt, før noget er indhentet
      Givet et journalsamtykke underskrevet den 10. marts 2026
      Og samtykket er indført i patientjournalen samme dag
      Når borgeren tilbagekalder samtykket den 1. april 2026
      Så er tilbagekaldelsen registreret
      Og der er ikke indhentet oplysninger på grundlag af samtykket
      Og en indhentning den 31. marts 2026 var dækket
      Og en indhentning den 1. april 2026 er ikke dækket, fordi samtykket er tilbagekaldt
      Og samtykket har status "tilbagekaldt" den 1. april 2026

  Regel: Efter indhentningen registreres tilbagekaldelsen, men det indhentede er lovligt indhentet

    Scenarie: Tilbagekaldt, efter at oplysninger er indhentet
      Givet et journalsamtykke underskrevet den 10. marts 2026
      Og samtykket er indført i patientjournalen samme dag
      Og der er indhentet oplysninger den 20. marts 2026
      Når borgeren tilbagekalder samtykket den 1. april 2026
      Så er tilbagekaldelsen registreret
      Og de oplysninger, der allerede er indhentet, forbliver lovligt indhentet
      Og der må ikke indhentes flere oplysninger efter den 1. april 2026
      Og forklaringen til borgeren indeholder "lovligt indhentet"

  Regel: Et trivselssamtykke kan tilbagekaldes når som helst, med virkning fra samme dag

    Scenarie: Trivselssamtykket tilbagekaldes efter første spørgeskema
      Givet et trivselssamtykke underskrevet den 10. marts 2026
      Og der er indsamlet trivselsoplysninger den 10. marts 2026
      Når borgeren tilbagekalder samtykket den 5. maj 2026
      Så er tilbagekaldelsen registreret
      Og behandling den 4. maj 2026 var dækket
      Og behandling den 5. maj 2026 er ikke dækket, fordi samtykket er tilbagekaldt
      Og behandling før tilbagekaldelsen er fortsat lovlig
      Og forklaringen til borgeren indeholder "stopper fra denne dag"

  Regel: Kun et givet samtykke kan tilbagekaldes

    Scenarie: Borgeren sagde nej
      Givet borgeren har sagt nej til et journalsamtykke den 10. marts 2026
      Når borgeren tilbagekalder samtykket den 1. april 2026
      Så er der intet samtykke at tilbagekalde
